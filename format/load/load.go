// Package load reads a model from any file shrink understands: a native
// shrink model file, or an ONNX file imported directly. It is the one place
// that decides a file's format from its name, so that the CLI, recipe
// teachers and the library agree.
package load

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/format/onnx"
)

// IsONNX reports whether path names an ONNX file (by its extension).
func IsONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// File reads the model at path: a shrink model file, or an .onnx file
// imported with provenance naming the source (its "import" pass), the
// producer and the opset. The model is prepared for inference.
func File(path string) (*format.File, error) { return FileBudget(path, budget.Budget{}) }

// FileBudget is File within the resource budget b: ONNX constant folding
// is bounded by it, and the model's MACs, classes and per-sample memory
// are checked against it before anything runs.
func FileBudget(path string, b budget.Budget) (*format.File, error) {
	if !IsONNX(path) {
		f, err := format.Read(path)
		if err != nil {
			return nil, err
		}
		if err := f.Model.CheckBudget(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return f, nil
	}
	m, info, err := onnx.ReadFileBudget(path, b)
	if err != nil {
		return nil, err
	}
	if err := m.CheckBudget(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Prepare()
	return format.New(m, ImportProvenance(path, info.Producer, info.Opset)), nil
}

// ImportProvenance is the provenance of a model imported from path; the
// caller fills in Command and Created.
func ImportProvenance(path, producer string, opset int64) format.Provenance {
	opts := map[string]string{"source": path}
	if producer != "" {
		opts["producer"] = producer
	}
	if opset > 0 {
		opts["opset"] = strconv.FormatInt(opset, 10)
	}
	return format.Provenance{Options: opts, Tool: "shrink", Passes: []format.Pass{{Name: "import", Options: opts}}}
}

// Teacher reads a teacher model file for a student that takes inputs of
// the given number of elements per sample and has classes outputs, and
// checks both. Its errors name the file; the caller names the flag or
// recipe option.
func Teacher(path string, inputElems, classes int) (*format.File, error) {
	return TeacherBudget(path, inputElems, classes, budget.Budget{})
}

// TeacherBudget is Teacher within the resource budget b.
func TeacherBudget(path string, inputElems, classes int, b budget.Budget) (*format.File, error) {
	f, err := FileBudget(path, b)
	if err != nil {
		return nil, err
	}
	if n := f.Model.Input.Size(); n != inputElems {
		return nil, fmt.Errorf("%s takes inputs of shape %v (%d values), the data has %d values per sample", path, f.Model.Input, n, inputElems)
	}
	if f.Model.Classes() != classes {
		return nil, fmt.Errorf("%s has %d classes, the model %d", path, f.Model.Classes(), classes)
	}
	return f, nil
}
