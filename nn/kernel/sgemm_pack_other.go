//go:build !amd64 || purego

package kernel

func copyPanel16(dst, src []float32, ldb, kc int) { copyPanel16Go(dst, src, ldb, kc) }
