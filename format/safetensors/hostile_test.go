package safetensors_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format/safetensors"
)

// TestHostileHeaders (issue 14, finding 9): headers with too many entries
// are refused while decoding, and no error line echoes more than a few
// words of the file.
func TestHostileHeaders(t *testing.T) {
	many := func(n int) []byte {
		var h strings.Builder
		h.WriteString("{")
		for k := range n {
			if k > 0 {
				h.WriteString(",")
			}
			fmt.Fprintf(&h, `"layer%d.w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, k)
		}
		h.WriteString("}")
		return file(h.String(), nil)
	}
	long := strings.Repeat("k", 1<<20)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"200,000 entries", many(200_000), "more than 65536 entries"},
		{"a 1 MiB key twice", file(`{"`+long+`":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"`+long+`":{}}`, make([]byte, 4)), "appears twice"},
		{"a 1 MiB dtype", file(`{"a":{"dtype":"`+long+`","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"a 1 MiB unknown field", file(`{"a":{"`+long+`":1}}`, nil), "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := safetensors.Decode(c.b)
			require.ErrorIs(t, err, safetensors.ErrCorrupt)
			require.ErrorContains(t, err, c.want)
			require.Less(t, len(err.Error()), 400, err.Error())
			require.Less(t, time.Since(start), 10*time.Second)
		})
	}
	// 65,536 entries are still accepted.
	f, err := safetensors.Decode(many(65536))
	require.NoError(t, err)
	require.Len(t, f.Names, 65536)

	// Bind lists at most a few of the file's groups.
	names := make([]safetensors.Named, 5000)
	for k := range names {
		names[k] = safetensors.Named{Name: fmt.Sprintf("g%d.%s.weight", k, strings.Repeat("x", 100)), Shape: []int{1}, Data: []float32{1}}
	}
	b, err := safetensors.Encode(names, nil, false)
	require.NoError(t, err)
	g, err := safetensors.Decode(b)
	require.NoError(t, err)
	err = safetensors.Bind(build(t, "mlp:8"), g)
	require.ErrorContains(t, err, "the file has 5000 parameter groups")
	require.ErrorContains(t, err, "(5000 in all)")
	require.Less(t, len(err.Error()), 1500)
}
