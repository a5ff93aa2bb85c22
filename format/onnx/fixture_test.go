package onnx_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format/onnx"
	"github.com/shrink-ml/shrink/nn"
)

// reference is the JSON bench/onnx/make_fixtures.py writes next to each
// fixture: PyTorch's outputs on the first N mnist-mini test images.
type reference struct {
	Model   string      `json:"model"`
	Opset   int64       `json:"opset"`
	N       int         `json:"n"`
	Classes int         `json:"classes"`
	Labels  []int       `json:"labels"`
	Logits  [][]float64 `json:"logits"`
}

func loadReference(t testing.TB, path string) reference {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r reference
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Logits, r.N)
	return r
}

var mini *data.Data

func testImages(t testing.TB, n int) []float32 {
	t.Helper()
	if mini == nil {
		d, err := data.Load("mnist-mini", data.Options{})
		require.NoError(t, err)
		mini = d
	}
	return mini.Test.X[:n*mini.Test.Dim()]
}

// compareLogits requires max |a - ref| ≤ tol and identical argmax.
func compareLogits(t *testing.T, got []float32, ref reference, tol float64) float64 {
	t.Helper()
	k := ref.Classes
	require.Len(t, got, ref.N*k)
	worst := 0.0
	for i, row := range ref.Logits {
		z := got[i*k : (i+1)*k]
		for j, v := range row {
			worst = math.Max(worst, math.Abs(float64(z[j])-v))
		}
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		require.Equal(t, best, nn.Argmax(z), "sample %d", i)
	}
	require.LessOrEqual(t, worst, tol)
	return worst
}

func TestPyTorchFixtures(t *testing.T) {
	files, err := filepath.Glob("../../testdata/onnx/*.onnx")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		name := filepath.Base(path[:len(path)-len(".onnx")])
		t.Run(name, func(t *testing.T) {
			m, info, err := onnx.ReadFile(path)
			require.NoError(t, err)
			ref := loadReference(t, path[:len(path)-len(".onnx")]+".json")
			require.Equal(t, ref.Opset, info.Opset)
			require.Equal(t, nn.Shape{28, 28, 1}, m.Input)
			z, err := nn.Logits(m, testImages(t, ref.N))
			require.NoError(t, err)
			worst := compareLogits(t, z, ref, 1e-4)
			t.Logf("%s: %d layers, max abs diff %.3g", name, len(m.Layers), worst)

			// Export → import gives identical logits.
			b, err := onnx.Export(m, onnx.ExportOptions{})
			require.NoError(t, err)
			m2, _, err := onnx.Import(b)
			require.NoError(t, err)
			z2, err := nn.Logits(m2, testImages(t, ref.N))
			require.NoError(t, err)
			require.Equal(t, z, z2)
		})
	}
}
