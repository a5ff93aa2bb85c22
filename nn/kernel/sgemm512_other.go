//go:build !amd64 || purego

package kernel

// kernels512 is never used without the assembly (use.avx512 stays false).
var kernels512 [2][2]microKernel

// direct512 is never used without the assembly.
var direct512 [2][2]directKernel
