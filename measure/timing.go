package measure

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shrink-ml/shrink/nn"
)

// minRun is the shortest timed run: each run repeats the inference call
// until at least this long has passed, so that the clock's resolution and
// the cost of reading it stay below 0.1% of a run.
const minRun = 100 * time.Millisecond

// Timing is the median wall time of one inference call on a batch.
type Timing struct {
	Batch    int           // samples per call
	PerBatch time.Duration // median time of one call
}

// ImagesPerS returns the throughput, samples per second.
func (t Timing) ImagesPerS() float64 { return float64(t.Batch) / t.PerBatch.Seconds() }

// LatencyUS returns the time per sample in microseconds (PerBatch / Batch).
func (t Timing) LatencyUS() float64 { return t.PerBatch.Seconds() * 1e6 / float64(t.Batch) }

// BatchLatencyUS returns the time of one call in microseconds.
func (t Timing) BatchLatencyUS() float64 { return t.PerBatch.Seconds() * 1e6 }

// Throughput times each model on a batch of batch inputs drawn uniformly
// from [0, 1) with seed (the same inputs for models of the same input
// shape). After a warm-up that also sets how many calls make a run of at
// least 100 ms, it takes runs timed runs per model and returns each
// model's median. The runs of the models are interleaved (run r of every
// model before run r+1 of any), so that a change in the machine's load
// touches them all alike and their ratios stay comparable.
//
// It runs each model on the path its layers are prepared for; call
// Model.Prepare first to choose the one its stored form calls for. It
// panics unless batch > 0 and runs > 0.
func Throughput(ms []*nn.Model, batch, runs int, seed uint64) []Timing {
	if batch <= 0 || runs <= 0 {
		panic("measure: Throughput needs a positive batch and number of runs")
	}
	xs := make([]*nn.Tensor, len(ms))
	calls := make([]int, len(ms))
	for i, m := range ms {
		rng := rand.New(rand.NewPCG(seed, 0xbe9c4))
		xs[i] = nn.NewTensor(batch, m.Input)
		for k := range xs[i].Data {
			xs[i].Data[k] = rng.Float32()
		}
		calls[i] = 1
		for {
			start := time.Now()
			for range calls[i] {
				m.Infer(xs[i])
			}
			if time.Since(start) >= minRun {
				break
			}
			calls[i] *= 2
		}
	}
	times := make([][]time.Duration, len(ms))
	for range runs {
		for i, m := range ms {
			start := time.Now()
			for range calls[i] {
				m.Infer(xs[i])
			}
			times[i] = append(times[i], time.Since(start)/time.Duration(calls[i]))
		}
	}
	out := make([]Timing, len(ms))
	for i, t := range times {
		slices.Sort(t)
		out[i] = Timing{Batch: batch, PerBatch: t[runs/2]}
	}
	return out
}

// Latency returns m's latency per sample at batch 1 in microseconds: the
// median of runs timed runs after a warm-up (see Throughput).
func Latency(m *nn.Model, runs int, seed uint64) float64 {
	return Throughput([]*nn.Model{m}, 1, runs, seed)[0].LatencyUS()
}
