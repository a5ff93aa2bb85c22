//go:build amd64 && !purego

package kernel

// The peak-throughput probes of peak_amd64.s; each runs n iterations.

//go:noescape
func peakFMA512(n int)

//go:noescape
func peakFMA256(n int)

//go:noescape
func peakVNNI512(n int)

//go:noescape
func peakVNNI256(n int)

//go:noescape
func peakMADDUBS(n int)
