package onnx

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/budget"
)

// chain is a valid tail for a hostile graph: x (N, 4) → Relu → Gemm → y.
func chain() ([]*node, [][]byte) {
	return []*node{
			nd("Relu", "r", []string{"x"}, []string{"r"}),
			nd("Gemm", "fc", []string{"r", "W"}, []string{"y"}, intAttr("transB", 1)),
		}, [][]byte{
			floatTensor("W", []int64{3, 4}, []float32{0.5, -1, 2, 0.25, 1.5, -0.75, 1, 3, -2, 0.5, 1, -1}, true),
		}
}

// TestFoldingBudget: 200 ConstantOfShape([2^24]) nodes (a 41 KB file
// asking for 12.5 GiB) are refused at the fifth, before it allocates.
func TestFoldingBudget(t *testing.T) {
	tail, inits := chain()
	nodes := []*node{nd("Constant", "s", nil, []string{"s"}, ints("value_ints", 1<<24))}
	for k := range 200 {
		nodes = append(nodes, nd("ConstantOfShape", fmt.Sprintf("c%d", k), []string{"s"}, []string{fmt.Sprintf("z%d", k)}))
	}
	b := modelBytes(append(nodes, tail...), inits, []int64{-1, 4}, "y", 13)
	require.Less(t, len(b), 41<<10)
	var err error
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	_, _, err = Import(b)
	took := time.Since(start)
	runtime.ReadMemStats(&ms1)
	require.ErrorIs(t, err, budget.ErrExceeded)
	require.ErrorContains(t, err, `node 4 (ConstantOfShape "c3"): folded constants: 268435464 bytes (256.0 MiB) (constants folded at import) is above the limit of 256MiB (raise it with --max-folded)`)
	require.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(300<<20))
	require.Less(t, took, 10*time.Second)
	t.Logf("refused in %v: %v", took, err)

	// A raised budget admits more; views (Identity) cost nothing.
	_, _, err = ImportBudget(modelBytes(append(nodes[:3], tail...), inits, []int64{-1, 4}, "y", 13), budget.Budget{Folded: 128<<20 + 8}) // two fills and the shape
	require.NoError(t, err)
	_, _, err = ImportBudget(modelBytes(append(nodes[:3], tail...), inits, []int64{-1, 4}, "y", 13), budget.Budget{Folded: 128<<20 + 7})
	require.ErrorContains(t, err, "--max-folded")
	views := []*node{nodes[0], nodes[1]}
	for k := range 100 {
		views = append(views, nd("Identity", "", []string{fmt.Sprintf("v%d", k)}, []string{fmt.Sprintf("v%d", k+1)}))
	}
	views[2].inputs[0] = "z0"
	_, _, err = ImportBudget(modelBytes(append(views, tail...), inits, []int64{-1, 4}, "y", 13), budget.Budget{Folded: 64<<20 + 8}) // one fill and the shape
	require.NoError(t, err)
}

// TestTopoSortScales: 65,533 constant nodes, listed after the nodes that
// use them, sort in well under a second (the old sort was quadratic: 25 s).
func TestTopoSortScales(t *testing.T) {
	const n = 65533
	tail, inits := chain()
	// c0 ← c1 ← … : node k is Identity of node k+1, the last a Constant,
	// so every node is listed before the one it depends on.
	var nodes []*node
	for k := 0; k < n-1; k++ {
		nodes = append(nodes, nd("Identity", "", []string{fmt.Sprintf("c%d", k+1)}, []string{fmt.Sprintf("c%d", k)}))
	}
	nodes = append(nodes, nd("Constant", "", nil, []string{fmt.Sprintf("c%d", n-1)}, &attribute{name: "value_float", typ: attrFloat, f: 1}))
	b := modelBytes(append(nodes, tail...), inits, []int64{-1, 4}, "y", 13)
	start := time.Now()
	m, info, err := Import(b)
	took := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, n+2, info.Nodes)
	require.Equal(t, n, info.Folded)
	require.Equal(t, 3, m.Classes())
	require.Less(t, took, 5*time.Second)
	t.Logf("%d nodes imported in %v", n+2, took)

	// The order keeps file order among ready nodes, and cycles are named.
	g := &graph{nodes: []*node{
		nd("Relu", "a", []string{"x"}, []string{"a"}), nd("Relu", "b", []string{"x"}, []string{"b"}),
		nd("Relu", "c", []string{"d"}, []string{"c"}), nd("Relu", "d", []string{"a"}, []string{"d"}),
	}}
	for i, nn := range g.nodes {
		nn.index = i
	}
	order, err := topoSort(g, nil, "x")
	require.NoError(t, err)
	var names []string
	for _, o := range order {
		names = append(names, o.name)
	}
	require.Equal(t, []string{"a", "b", "d", "c"}, names)
	g.nodes[0].inputs[0] = "c"
	_, err = topoSort(g, nil, "x")
	require.ErrorContains(t, err, `cycle through node 0 (Relu "a"), node 2 (Relu "c"), node 3 (Relu "d")`)
}

// TestErrorLinesCapped: names from the file (up to the decoder's 4096
// bytes) are cut in error lines.
func TestErrorLinesCapped(t *testing.T) {
	long := strings.Repeat("n", 4096)
	tail, inits := chain()
	b := modelBytes(append([]*node{nd("Relu", long, []string{long}, []string{"q"})}, tail...), inits, []int64{-1, 4}, "y", 13)
	_, _, err := Import(b)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Less(t, len(err.Error()), 400)
	require.Contains(t, err.Error(), "(4096 bytes)")
}
