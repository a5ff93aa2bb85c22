package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/internal/atomicfile"
	"github.com/shrink-ml/shrink/nn"
)

func init() { commands = append(commands, newPredictCmd) }

// predictOptions are the flags of `shrink predict`.
type predictOptions struct {
	model  string
	data   dataFlags
	split  string
	logits bool
	out    string
}

func newPredictCmd(g *globals) *cobra.Command {
	o := &predictOptions{}
	c := &cobra.Command{
		Use:   "predict MODEL [--data DATA] [--split test|train] [--logits] [-o FILE.csv]",
		Short: "write a model's predictions (and logits) for every input as CSV",
		Long: `Run a model over a data set and write one CSV row per input:
index,label,prediction (label empty when the input has none), plus
logit_0..logit_K with --logits, each printed with the fewest digits that
read back as the same float32. Without -o the CSV goes to stdout.

MODEL is a shrink model file or an .onnx file. Without --data the split
recorded in the model file is used (mnist-mini for imported models). This is
the way to check a model against another runtime (see bench/onnx).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runPredict(g, o)
		},
	}
	f := c.Flags()
	o.data.register(f)
	f.StringVar(&o.split, "split", "test", "which part to predict: test or train")
	f.BoolVar(&o.logits, "logits", false, "add the columns logit_0..logit_K")
	f.StringVarP(&o.out, "output", "o", "", "CSV file to write (default: stdout)")
	return c
}

func runPredict(g *globals, o *predictOptions) error {
	if err := checkOutput(g, o.out, o.model, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	f, _, set, err := loadSplit(g, o.model, &o.data, o.split)
	if err != nil {
		return err
	}
	z, err := nn.LogitsWithin(f.Model, set.X, limits)
	if err != nil {
		return err
	}
	if o.out == "" {
		return writePredictions(g.stdout, z, set.Y, f.Model.Classes(), o.logits)
	}
	var b bytes.Buffer
	if err := writePredictions(&b, z, set.Y, f.Model.Classes(), o.logits); err != nil {
		return fmt.Errorf("%s: %w", o.out, err)
	}
	if err := atomicfile.WriteFile(o.out, b.Bytes()); err != nil {
		return err
	}
	g.logf("wrote %d predictions to %s\n", len(z)/f.Model.Classes(), o.out)
	return nil
}

// writePredictions writes the CSV: index,label,prediction[,logit_0..].
func writePredictions(w io.Writer, z []float32, y []int, k int, logits bool) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString("index,label,prediction")
	if logits {
		for j := 0; j < k; j++ {
			fmt.Fprintf(bw, ",logit_%d", j)
		}
	}
	bw.WriteByte('\n')
	var buf []byte
	for i := 0; i < len(z)/k; i++ {
		row := z[i*k : (i+1)*k]
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, ',')
		if i < len(y) {
			buf = strconv.AppendInt(buf, int64(y[i]), 10)
		}
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(nn.Argmax(row)), 10)
		if logits {
			for _, v := range row {
				buf = append(buf, ',')
				buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
			}
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
