// Package format reads and writes shrink model files: one self-describing,
// checksummed file holding a model's architecture, its weights in a tagged
// encoding per tensor, and the provenance of how it was made.
//
// # Layout (version 1)
//
// All integers are little-endian. Offsets are in bytes.
//
//	offset  size  field
//	0       8     magic "SHRINK\x1a\n"
//	8       2     u16 version = 1
//	10      2     u16 flags: bit 0 = the metadata is zstd-compressed; a
//	              reader rejects unknown bits with ErrVersion
//	12      4     u32 metadata length M, as stored (at most MaxMetadata = 1 MiB)
//	16      M     metadata: one UTF-8 JSON object (see below), or with
//	              flag bit 0 one zstd frame holding it
//	16+M    D     data section: the tensors' stored bytes, back to back
//	16+M+D  4     u32 CRC-32C (Castagnoli) of bytes [0, 16+M+D)
//
// D is not stored: it is what remains between the metadata and the trailer.
//
// With flag bit 0 the metadata is one zstd frame that declares its content
// size, at most MaxMetadata bytes: the reader checks the declared size
// against the cap before allocating, and the frame must decode to exactly
// that many bytes. The writer compresses the metadata when compression is
// on (File.Compress) and that makes it smaller; files without the flag
// (every file written before it existed) hold plain JSON.
//
// The metadata object is
//
//	{
//	  "input":      [28, 28, 1],            // nn.Shape of one sample
//	  "layers":     [nn.LayerSpec, ...],    // the architecture, for nn.Build
//	  "provenance": Provenance,             // how the file came to be
//	  "tensors": [{
//	    "name":        "fc1.weight",        // "<layer name>.<param name>"
//	    "shape":       [300, 784],          // the parameter's shape
//	    "encoding":    1,                   // Encoding tag (see below)
//	    "compression": "zstd",              // "none", "zstd", "fse" or "ctx"
//	    "offset":      0,                   // from the start of the data section
//	    "length":      862311,              // stored bytes
//	    "raw_length":  940800,              // bytes before compression
//	    "crc32c":      1234567890           // CRC-32C of the raw bytes
//	  }, ...]
//	}
//
// Raw tensor bytes are the parameter's values in row-major order, each in
// the tensor's encoding: Float32 is IEEE 754 binary32 (4 bytes), Float16 is
// IEEE 754 binary16 (2 bytes, rounded to nearest even), both little-endian.
// With compression "zstd" the stored bytes are zstd data (the writer makes
// one frame) that decodes to exactly raw_length bytes: a content size in a
// frame header, if present, must equal raw_length, and decoding stops at
// raw_length bytes. With compression "fse" the stored bytes are
//
//	uvarint P        verbatim length, P < raw_length
//	P bytes          the first P raw bytes, as they are
//	FSE block        one order-0 Finite State Entropy block (klauspost/
//	                 compress/fse, as zstd codes its tables) decoding to
//	                 the other raw_length − P bytes
//
// The writer sets P to the encoding's tables (the Int8 header and scales,
// a codebook's header and centroids) so that float bytes do not spoil the
// statistics of the codes, and stores whole-byte codes (Int8, Codebook8)
// near their order-0 entropy: the zeros of a pruned tensor cost about the
// binary entropy of its density. A tensor of one repeated byte is never
// fse (zstd stores it in a few bytes).
//
// With compression "ctx" the stored bytes are
//
//	uvarint P        verbatim length, P < raw_length
//	P bytes          the first P raw bytes, as they are
//	uvarint C        row length in bytes, 1 ≤ C ≤ min(m, 65536), where
//	                 m = raw_length − P
//	u8 Z             the zero symbol
//	u8 A−1           the alphabet: every coded byte is < A, and Z < A
//	uvarint D        a neighbour distance: 0 (none) or 2 ≤ D < C
//	body             a binary arithmetic code of the other m raw bytes
//
// The m coded bytes form rows of C bytes (the last row may be shorter;
// the writer sets C to the tensor's row length, its values over shape[0]).
// Each is coded as a flag "is not Z" and, if it is not Z, as its value in
// bits.Len(A−1) binary decisions, the top bit first. The probability of
// each decision comes from an adaptive context model that the encoder and
// the decoder run alike, in integer arithmetic: for the flag, a logistic
// mix (its weights learnt as it goes) of the frequency of non-Z bytes in
// the column so far, of the flag under the pattern of the flags 1, 2,
// D−1, D, D+1 and 2D places left in the row, and of the flag under the
// densities of the column and of the row so far with the flags 1 and D
// places left; for a value bit, a mix of its frequency at its tree node,
// at its node after the byte left and at its node after the byte D places
// left. The coder keeps a 32-bit interval, writes a byte whenever the
// interval's bounds agree on their top byte, and ends the body with the 4
// bytes of the interval's low bound; the decoder must read exactly the
// body and end on that bound. The package format/internal/ctx is the
// reference for the model's constants and arithmetic. The writer picks D as the distance whose flags
// tell most about a flag beyond its left neighbour (the width of an image
// flattened into a row, the input channels of a convolution). Where a
// pruned tensor's columns differ in density (inputs that every output
// ignores) and neighbours agree, ctx stores its zeros well under their
// order-0 entropy: lenet300's first layer, 93.5% pruned to 8 shared
// values, takes about 15% fewer bytes than with fse.
//
// With compression on, the writer stores each tensor in the smallest of
// "none", "zstd", "fse" and "ctx" (ctx only for one-byte codes, Int8 and
// Codebook8, at least 3/4 of them one value, as in a pruned tensor), and
// a Codebook tensor as Codebook8 instead when that stores smaller (they
// decode to the same values); the directory records what was stored. It
// emits the tensors in model parameter order, so a model and its
// encodings always give the same bytes. The reader accepts entries in any
// order.
//
// # Reading hostile files
//
// Decode treats every byte as hostile and never panics. In order it checks:
// the magic (ErrCorrupt); the version (0 is ErrCorrupt, above 1 ErrVersion);
// the metadata length against the cap and what remains of the file; the
// trailing checksum; the flags (ErrVersion); a compressed metadata frame's
// declared size against MaxMetadata; the JSON; the architecture, dry run for
// its shapes and parameter counts under hard caps before nn.Build allocates
// anything; each tensor entry (known encoding and compression, raw_length
// within what the encoding allows for the shape, offset and length inside
// the data section, the entries tiling the data section with no overlap and
// no unreferenced bytes, raw_length at most 32768 × length for zstd, fse
// and ctx, the total number of values at most MaxElements and at least
// what the architecture needs); each tensor name matching exactly one
// model parameter with the same shape; and, while decoding, the decoded
// length (zstd stops at raw_length; fse stops as soon as it passes it, so
// a lying stream allocates at most raw_length plus a small slack; ctx
// checks its header against raw_length, decodes exactly raw_length bytes,
// allocating beside them only its model, at most 10 bytes per raw byte and
// 640 KiB, and fails as soon as it reads past the body, or when it does
// not end on the coder's final state) and its CRC-32C, which also catches
// the corruption FSE cannot see. Read also refuses files larger than the
// caps allow before reading them. All errors wrap ErrCorrupt or ErrVersion.
//
// # Encoding tags
//
// Encoding tags are stable; each encoding documents its byte layout next to
// its constant:
//
//	1  Float32           2  Float16
//	3  Int8 (per-channel scales)   4  Int4 (blocks, low nibble first)
//	5  Q8_0 (ggml)       6  Q4_0 (ggml)
//	8  Codebook (weight sharing, packed indices)
//	9  Codebook8 (weight sharing, one byte per index)
//	10 SparseBitmask     11 SparseBitmask16  (float32 / float16 values)
//	12 SparseRelative    13 SparseRelative16 (relative indices, filler entries)
//	14 CSR               15 CSR16
//	16 SparseNM          17 SparseNM16       (N:M semi-structured)
//
// Tag 7 is unassigned (the tests use it as an unknown tag). A version 1
// reader rejects any tag or compression it does not know as ErrCorrupt; a
// reader older than tag 9, "fse", "ctx" and flag bit 0 rejects files using
// them (ErrCorrupt for the first three, ErrVersion for the flag).
package format
