package format_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
)

// encodeAt encodes the test model with a given creation time.
func encodeAt(t *testing.T, created string) []byte {
	f := &format.File{Model: mlp(t), Provenance: provenance(), Compress: true}
	f.Provenance.Created = created
	var b bytes.Buffer
	require.NoError(t, format.Encode(&b, f))
	return b.Bytes()
}

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv(format.SourceDateEpoch, "")
	a, b := encodeAt(t, "2031-05-06T07:08:09Z"), encodeAt(t, "2031-05-06T07:08:10Z")
	require.NotEqual(t, a, b, "without SOURCE_DATE_EPOCH the time is stored as given")
	now, err := format.Now()
	require.NoError(t, err)
	got, err := time.Parse(time.RFC3339, now)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), got, time.Minute)

	t.Setenv(format.SourceDateEpoch, "1700000000")
	now, err = format.Now()
	require.NoError(t, err)
	require.Equal(t, "2023-11-14T22:13:20Z", now)
	// Two runs a second (or a year) apart give the same bytes ...
	a, b = encodeAt(t, "2031-05-06T07:08:09Z"), encodeAt(t, time.Now().UTC().Format(time.RFC3339))
	require.Equal(t, a, b)
	m, err := format.Decode(a)
	require.NoError(t, err)
	require.Equal(t, "2023-11-14T22:13:20Z", m.Provenance.Created)
	// ... an earlier time is kept (clamped, not replaced), an empty one stays empty.
	m, err = format.Decode(encodeAt(t, "2020-01-02T03:04:05Z"))
	require.NoError(t, err)
	require.Equal(t, "2020-01-02T03:04:05Z", m.Provenance.Created)
	m, err = format.Decode(encodeAt(t, ""))
	require.NoError(t, err)
	require.Empty(t, m.Provenance.Created)

	for _, bad := range []string{"yesterday", "-1", "1.5", "99999999999999"} {
		t.Setenv(format.SourceDateEpoch, bad)
		_, err := format.Now()
		require.ErrorContains(t, err, "SOURCE_DATE_EPOCH")
		f := &format.File{Model: mlp(t), Provenance: provenance()}
		require.ErrorContains(t, format.Encode(&bytes.Buffer{}, f), "SOURCE_DATE_EPOCH")
	}
}
