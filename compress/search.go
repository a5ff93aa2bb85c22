package compress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/measure"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
	"github.com/shrink-ml/shrink/quantize"
	"github.com/shrink-ml/shrink/report"
)

// Objective is what a search minimises.
type Objective string

// The objectives.
const (
	Size    Objective = "size"    // bytes on disk
	MACs    Objective = "macs"    // effective multiply-accumulates per sample
	Latency Objective = "latency" // measured per-sample latency at batch 1
)

// ParseObjective checks an objective's name.
func ParseObjective(s string) (Objective, error) {
	switch o := Objective(s); o {
	case Size, MACs, Latency:
		return o, nil
	}
	return "", fmt.Errorf("objective %q: want size, macs or latency", s)
}

// ParseDrop parses an accuracy budget: "0.1%" is 0.001, "0.001" is 0.001.
func ParseDrop(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a non-negative number or percentage", s)
	}
	if pct {
		v /= 100
	}
	if v >= 1 {
		return 0, fmt.Errorf("%q is a budget of 100%% or more", s)
	}
	return v, nil
}

// Budget configures Search.
type Budget struct {
	// MaxDrop is the validation accuracy the output may lose against the
	// input, a fraction (0.001 is 0.1 points).
	MaxDrop float64
	// Objective is what is minimised among the candidates within budget
	// (default Size).
	Objective Objective
	// Epochs are the fine-tuning epochs of each candidate's gradual
	// pruning (centroid fine-tuning gets a tenth, at least one; 0: none).
	Epochs int
	// NoDistill fine-tunes candidates on the labels alone instead of the
	// teacher's logits (Env.Teacher, else the input model).
	NoDistill bool
	// Ratios is the ladder of estimated compression ratios tried (default
	// 8, 16, 32, 40, 50, 64, 96, 128).
	Ratios []float64
	// Samples, when positive, caps the training samples used for
	// fine-tuning (quick runs and tests).
	Samples int
}

// searchRatios are the ladder's targets, least aggressive first: each
// candidate is the per-layer allocation that the sensitivities rate best
// among those whose estimated cost (bytes for --objective size, non-zero
// weights otherwise) is the float32 model's divided by the ratio (see
// searchAllocator).
var searchRatios = []float64{8, 16, 32, 40, 50, 64, 96, 128}

// searchMoreRungs caps the rungs tried beyond the ladder when its most
// aggressive one is within budget.
const searchMoreRungs = 6

// searchBitsWeight weighs a layer's one-shot clustering drop against its
// one-shot pruning drop: fine-tuning recovers most of what pruning loses
// (lenet300's fc1 loses 14 points at 93% one-shot and 0.1 after gradual
// pruning) but less of what a coarse codebook loses. Chosen on lenet300's
// validation split (bench/COMPRESS.md): at 25 fc1 never left 4 bits and
// was pruned to 95% instead, at 3 every layer took 2-bit codebooks near
// 50×; 6 to 10 give the recipe's allocation (fc1 93%/3 bits) there.
const searchBitsWeight = 10

// searchAllocator returns the search's per-layer assignment for a target
// compression ratio.
//
// The assignment for ratio r is a Lagrangian allocation: each
// layer takes the (sparsity, bits) option minimising est + λ·drop, where
// est is the option's estimated cost and drop its one-shot pruning drop
// plus searchBitsWeight times its one-shot clustering drop, each
// measured with that layer alone; λ is the largest (most cautious) for
// which the layers' estimates sum to at most the float32 cost / r. With
// one λ for every layer, a layer is compressed further only where that
// buys more cost per point of estimated drop than elsewhere, so a small
// layer is not given a coarse codebook that saves it a few bytes.
func searchAllocator(objective string, layers []string, weights map[string]float64, baseAcc float64, pruneSens []prune.SensitivityPoint, quantSens map[int][]quantize.LayerSensitivity) func(ratio float64) (map[string]float64, map[string]int) {
	type option struct {
		sparsity  float64
		bits      int
		est, drop float64
	}
	opts := map[string][]option{}
	var dense float64
	for _, l := range layers {
		n := weights[l]
		dense += searchEstimate(objective, n, 0, 32)
		dp := map[float64]float64{0: 0}
		for _, p := range pruneSens {
			if p.Layer == l {
				dp[p.Sparsity] = max(0, baseAcc-p.Accuracy)
			}
		}
		dq := map[int]float64{8: 0}
		for _, b := range searchBits {
			for _, s := range quantSens[b] {
				if s.Layer == l {
					dq[b] = max(0, s.Drop)
				}
			}
		}
		for _, sp := range slices.Sorted(maps.Keys(dp)) {
			for _, b := range slices.Sorted(maps.Keys(dq)) {
				opts[l] = append(opts[l], option{sp, b, searchEstimate(objective, n, sp, b), dp[sp] + searchBitsWeight*dq[b]})
			}
		}
	}
	allocate := func(lambda float64) (map[string]float64, map[string]int, float64) {
		sp, bits := map[string]float64{}, map[string]int{}
		var total float64
		for _, l := range layers {
			best := -1
			for i, op := range opts[l] {
				if best < 0 {
					best = i
					continue
				}
				a, b := op.est+lambda*op.drop, opts[l][best].est+lambda*opts[l][best].drop
				if a < b || (a == b && op.drop < opts[l][best].drop) {
					best = i
				}
			}
			if best < 0 {
				continue
			}
			op := opts[l][best]
			if op.sparsity > 0 {
				sp[l] = op.sparsity
			}
			bits[l] = op.bits
			total += op.est
		}
		return sp, bits, total
	}
	return func(ratio float64) (map[string]float64, map[string]int) {
		target := dense / ratio
		// est(λ) grows with λ: bisect log λ for the largest λ within target.
		lo, hi := -30.0, 30.0 // log₂ of λ in cost units per unit of accuracy
		if _, _, e := allocate(math.Exp2(lo) * dense); e > target {
			sp, bits, _ := allocate(0) // the target is out of reach: the smallest allocation
			return sp, bits
		}
		for range 80 {
			mid := (lo + hi) / 2
			if _, _, e := allocate(math.Exp2(mid) * dense); e <= target {
				lo = mid
			} else {
				hi = mid
			}
		}
		sp, bits, _ := allocate(math.Exp2(lo) * dense)
		return sp, bits
	}
}

// searchEstimate is the estimated cost of a layer of n weights at the given
// sparsity and codebook bits (32: float32): for --objective size its bytes
// as codebook indices entropy-coded with the zeros (H(density) + density ×
// bits per weight, which FSE over codebook8 comes close to and ctx beats
// on structured masks); otherwise its
// non-zero weights, with the bytes as a small tie-break so that bits are
// not wasted.
func searchEstimate(objective string, n, sparsity float64, bits int) float64 {
	d := 1 - sparsity
	var b float64
	switch {
	case bits >= 32:
		b = n * 4
	case d >= 1:
		b = n * float64(bits) / 8
	default:
		h := -d*math.Log2(d) - (1-d)*math.Log2(1-d)
		b = n * (h + d*float64(bits)) / 8
	}
	if objective == "size" {
		return b
	}
	return n*d + b/1e6
}

// searchSparsities and searchBits are the per-layer grids.
var (
	searchSparsities = []float64{0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99}
	searchBits       = []int{2, 3, 4, 5, 6}
)

// Candidate is one configuration the search tried.
type Candidate struct {
	Name        string             `json:"name"`
	Target      float64            `json:"target_ratio"` // the ladder's estimated compression ratio
	Sparsity    map[string]float64 `json:"sparsity"`
	Bits        map[string]int     `json:"bits"`
	ValAccuracy float64            `json:"val_accuracy"`
	FileBytes   int64              `json:"file_bytes"`
	Within      bool               `json:"within_budget"`
	Row         report.Row         `json:"row"`
}

// Config describes a candidate's per-layer choices.
func (c *Candidate) Config() string {
	layers := slices.Collect(maps.Keys(c.Bits))
	for l := range c.Sparsity {
		if _, ok := c.Bits[l]; !ok {
			layers = append(layers, l)
		}
	}
	slices.Sort(layers)
	var parts []string
	for _, l := range layers {
		b := "32b"
		if c.Bits[l] > 0 {
			b = fmt.Sprintf("%db", c.Bits[l])
		}
		parts = append(parts, fmt.Sprintf("%s %.4g%%/%s", l, 100*c.Sparsity[l], b))
	}
	return strings.Join(parts, " ")
}

// SearchResult is what the search measured and tried.
type SearchResult struct {
	BaseVal    float64                             `json:"base_val_accuracy"`
	MaxDrop    float64                             `json:"max_drop"`
	Objective  string                              `json:"objective"`
	PruneSens  []prune.SensitivityPoint            `json:"prune_sensitivity"`
	QuantSens  map[int][]quantize.LayerSensitivity `json:"quant_sensitivity"` // by bits
	Candidates []Candidate                         `json:"candidates"`
	Best       int                                 `json:"best"` // index into Candidates; -1 when none is within budget
	// File is the output: the best candidate as read back from its bytes,
	// with Env.Provenance plus the passes that made it; the input model
	// unchanged when no candidate is within budget.
	File *format.File `json:"-"`
}

// Search looks for the smallest model (by b.Objective) whose accuracy on
// d.Val is within b.MaxDrop of m's. It measures each layer's sensitivity
// to pruning and to weight sharing on d.Val, then tries per-layer sparsity
// and codebook-bit assignments of growing aggressiveness (see the
// allocator), each pruned gradually and clustered, fine-tuned on d.Train
// against the teacher's logits, encoded and read back, and keeps the best
// within budget. Both parts of d come from training data: the search
// cannot read a test split. m is not changed.
func Search(ctx context.Context, m *nn.Model, d Data, b Budget, env *Env) (*SearchResult, error) {
	if env == nil {
		env = &Env{}
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if b.Objective == "" {
		b.Objective = Size
	}
	if _, err := ParseObjective(string(b.Objective)); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if !(b.MaxDrop >= 0 && b.MaxDrop < 1) {
		return nil, fmt.Errorf("search: max drop %v: want a fraction in [0, 1)", b.MaxDrop)
	}
	if b.Epochs < 0 || b.Epochs > MaxEpochs {
		return nil, fmt.Errorf("search: epochs %d: want 0 to %d", b.Epochs, MaxEpochs)
	}
	tr, val := d.Train, d.Val
	if b.Samples > 0 && tr.Len() > b.Samples {
		tr = tr.Head(b.Samples)
	}
	base, err := nn.Evaluate(m, val.X, val.Y)
	if err != nil {
		return nil, err
	}
	// Every candidate fine-tunes against the teacher's logits (m's, unless
	// Env.Teacher) on the training part, computed once here (the loss only
	// reads them).
	var teacher nn.LossFunc
	if b.Epochs > 0 && !b.NoDistill {
		tm := m
		if env.Teacher != nil {
			tm = env.Teacher
		}
		if teacher, err = distill.Loss(tm, tr.X, searchTemperature, searchAlpha); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
	}
	res := &SearchResult{BaseVal: base.Accuracy, MaxDrop: b.MaxDrop, Objective: string(b.Objective), Best: -1, QuantSens: map[int][]quantize.LayerSensitivity{}}
	env.logf("compress: search: validation accuracy %.2f%% on %d samples, budget %.2f points\n", 100*base.Accuracy, val.Len(), 100*b.MaxDrop)
	if base.Accuracy == 1 {
		env.logf("compress: warning: the input model scores 100%% on the validation split, so it has probably been trained on it; fine-tuned candidates forget those images and the budget cannot be met (train the baseline with a validation split that holds them out)\n")
	}

	// Sensitivity, each layer alone, no fine-tuning.
	env.logf("  per-layer pruning sensitivity ...\n")
	if res.PruneSens, err = prune.Sensitivity(m, val.X, val.Y, searchSparsities, prune.Options{Method: prune.Magnitude}); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	env.logf("  per-layer weight-sharing sensitivity ...\n")
	for _, bits := range searchBits {
		ls, err := quantize.Sensitivity(m, tr, val, quantize.Options{Scheme: quantize.Codebook{K: 1 << bits}, Seed: env.Seed})
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		res.QuantSens[bits] = ls
	}
	var layers []string
	for _, p := range res.PruneSens {
		if !slices.Contains(layers, p.Layer) {
			layers = append(layers, p.Layer)
		}
	}
	weights := map[string]float64{}
	for _, l := range layers {
		if a, ok := m.Layer(l).(nn.Accelerated); ok {
			weights[l] = float64(len(a.Weight().W))
		}
	}
	assign := searchAllocator(string(b.Objective), layers, weights, base.Accuracy, res.PruneSens, res.QuantSens)
	cost := report.CostBytes
	switch b.Objective {
	case MACs:
		cost = report.CostMACs
	case Latency:
		cost = report.CostLatency
	}
	baseBytes, err := encodedSize(&format.File{Model: m, Compress: true})
	if err != nil {
		return nil, err
	}
	var files []*format.File
	// try builds and scores the candidate for ratio; an allocation tried
	// before is not trained again.
	try := func(ratio float64) (bool, error) {
		sp, bits := assign(ratio)
		for _, c := range res.Candidates {
			if maps.Equal(c.Sparsity, sp) && maps.Equal(c.Bits, bits) {
				return c.Within, nil
			}
		}
		c := Candidate{Name: fmt.Sprintf("c%d ×%.3g", len(res.Candidates)+1, ratio), Target: ratio, Sparsity: sp, Bits: bits}
		env.logf("  candidate %s: %s\n", c.Name, c.Config())
		f, err := buildCandidate(ctx, env, m, tr, teacher, c, b)
		if err != nil {
			return false, err
		}
		ev, err := nn.Evaluate(f.Model, val.X, val.Y)
		if err != nil {
			return false, err
		}
		if c.FileBytes, err = encodedSize(f); err != nil {
			return false, err
		}
		st := f.Model.Stats()
		c.ValAccuracy = ev.Accuracy
		c.Within = base.Accuracy-ev.Accuracy <= b.MaxDrop+1e-12
		c.Row = report.Row{Name: c.Name, Accuracy: ev.Accuracy, FileBytes: c.FileBytes, Ratio: float64(baseBytes) / float64(c.FileBytes),
			Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs, EffectiveMACs: st.EffectiveMACs}
		if b.Objective == Latency {
			c.Row.LatencyUS = measure.Latency(f.Model, 3, uint64(env.Seed))
		}
		env.logf("    val accuracy %.2f%% (%+.2f points), %s: %s\n", 100*ev.Accuracy, 100*(ev.Accuracy-base.Accuracy), report.HumanBytes(c.FileBytes),
			map[bool]string{true: "within budget", false: "over budget"}[c.Within])
		res.Candidates = append(res.Candidates, c)
		files = append(files, f)
		return c.Within, nil
	}
	ratios := b.Ratios
	if len(ratios) == 0 {
		ratios = searchRatios
	}
	// Every rung of the ladder is tried: at a 0.1-point budget the
	// mildest candidates can miss by noise (or by over-fitting the
	// fine-tuning) while more aggressive ones pass, so a failure does not
	// end the search.
	var okR, badR []float64
	for _, r := range ratios {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ok, err := try(r)
		if err != nil {
			return nil, err
		}
		if ok {
			okR = append(okR, r)
		} else {
			badR = append(badR, r)
		}
	}
	// When the most aggressive rung is within budget, the ladder did not
	// reach the limit: go on, ×1.5 a rung, until a candidate fails or the
	// smallest allocation there is has been tried.
	if top := slices.Max(ratios); len(okR) > 0 && slices.Max(okR) == top {
		spMin, bitsMin := assign(math.Inf(1))
		for r, i := top*1.5, 0; i < searchMoreRungs; r, i = r*1.5, i+1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			ok, err := try(r)
			if err != nil {
				return nil, err
			}
			if !ok {
				badR = append(badR, r)
				break
			}
			okR = append(okR, r)
			if sp, bits := assign(r); maps.Equal(sp, spMin) && maps.Equal(bits, bitsMin) {
				break
			}
		}
	}
	// Refine between the most aggressive success and the next failure.
	if len(okR) > 0 {
		lo, hi := slices.Max(okR), -1.0
		for _, r := range badR {
			if r > lo && (hi < 0 || r < hi) {
				hi = r
			}
		}
		for i := 0; i < 2 && hi > lo; i++ {
			mid := math.Sqrt(lo * hi)
			ok, err := try(mid)
			if err != nil {
				return nil, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
	}
	for i, c := range res.Candidates {
		if !c.Within {
			continue
		}
		if res.Best < 0 || cost.Of(c.Row) < cost.Of(res.Candidates[res.Best].Row) {
			res.Best = i
		}
	}
	if res.Best < 0 {
		env.logf("  no candidate within budget; the model is written unchanged\n")
		res.File = &format.File{Model: m, Compress: true, Provenance: env.Provenance}
		return res, nil
	}
	best := res.Candidates[res.Best]
	env.logf("  best: %s (%s, val accuracy %.2f%%)\n", best.Name, report.HumanBytes(best.FileBytes), 100*best.ValAccuracy)
	spj, _ := json.Marshal(best.Sparsity)
	bj, _ := json.Marshal(best.Bits)
	res.File = files[res.Best]
	res.File.Provenance = env.Provenance
	res.File.Provenance.Passes = append(slices.Clone(env.Provenance.Passes),
		format.Pass{Name: "prune", Seed: env.Seed, Options: map[string]string{"method": "magnitude", "schedule": "gradual", "steps": strconv.Itoa(searchGradualSteps),
			"layers": string(spj), "epochs": strconv.Itoa(b.Epochs), "distill": strconv.FormatBool(!b.NoDistill), "search": best.Name}},
		format.Pass{Name: "quantize", Seed: env.Seed, Options: map[string]string{"scheme": "codebook", "bits": string(bj), "epochs": strconv.Itoa(searchClusterEpochs(b.Epochs))}, Accuracy: best.ValAccuracy},
		format.Pass{Name: "encode", Seed: env.Seed, Options: map[string]string{"encoding": "auto"}, Accuracy: best.ValAccuracy},
	)
	return res, nil
}

// buildCandidate prunes a copy of m to c's per-layer sparsities, clusters
// each layer's weights to c's bits, and chooses the encodings. With
// fine-tuning epochs it trains the way the recipes do: gradual (Zhu & Gupta)
// pruning spread over the epochs, then centroid fine-tuning, both with the
// loss teacher when it is set (distillation from the teacher's logits on
// train, m's own by default, which was worth +0.3 to +0.5 validation
// points at 92–96% sparsity in bench/COMPRESS.md) and on the labels
// otherwise.
func buildCandidate(ctx context.Context, env *Env, m *nn.Model, train *data.Set, teacher nn.LossFunc, c Candidate, bud Budget) (*format.File, error) {
	work := m.Clone()
	// Candidates train silently: the search logs one line per candidate.
	e := &passEnv{ctx: ctx, env: &Env{}, m: work, train: train, seed: env.Seed}
	cfg := e.trainConfig(Options{"epochs": bud.Epochs, "lr": searchPruneLR}, bud.Epochs, "search prune")
	cfg.Loss = teacher
	var err error
	popt := prune.Options{Method: prune.Magnitude, Layers: c.Sparsity}
	if cfg.Epochs > 0 {
		sch := prune.Schedule{Kind: "gradual", Steps: searchGradualSteps}
		_, _, err = prune.Finetune(ctx, work, train, popt, sch, cfg)
	} else {
		_, err = prune.Prune(work, popt)
	}
	if err != nil {
		return nil, fmt.Errorf("search: %s: %w", c.Name, err)
	}
	byBits := map[int][]string{}
	for l, b := range c.Bits {
		byBits[b] = append(byBits[b], l)
	}
	for _, b := range slices.Sorted(maps.Keys(byBits)) {
		only := byBits[b]
		slices.Sort(only)
		if _, err := quantize.Quantize(work, nil, quantize.Options{Scheme: quantize.Codebook{K: 1 << b}, Only: only, Seed: env.Seed}); err != nil {
			return nil, fmt.Errorf("search: %s: %w", c.Name, err)
		}
	}
	e.step = 2
	if ce := searchClusterEpochs(bud.Epochs); ce > 0 {
		ccfg := e.trainConfig(Options{"epochs": ce, "lr": searchClusterLR}, 0, "search cluster")
		ccfg.Loss = teacher
		if _, err := quantize.FineTuneCodebook(ctx, work, train, ccfg); err != nil {
			return nil, fmt.Errorf("search: %s: %w", c.Name, err)
		}
	}
	// Encodings as the recipes' encode pass (lossy: float16 where it is
	// smaller); the candidate is the model as read back from those bytes,
	// so its validation accuracy is the written file's.
	f := &format.File{Model: work, Compress: true}
	if err := chooseEncodings(f, "auto", true); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := format.Encode(&b, f); err != nil {
		return nil, fmt.Errorf("search: %s: %w", c.Name, err)
	}
	back, err := format.Decode(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("search: %s: reading back: %w", c.Name, err)
	}
	back.Encodings = f.Encodings
	back.Compress = true
	return back, nil
}

// The fine-tuning of search candidates: the settings of the committed
// Deep Compression recipes (gradual pruning in 10 events at Adam lr 1e-3,
// distilled at T = 4, alpha = 0.9, then centroid fine-tuning at 2e-4).
const (
	searchGradualSteps = 10
	searchPruneLR      = 0.001
	searchClusterLR    = 0.0002
	searchTemperature  = 4
	searchAlpha        = 0.9
)

// searchClusterEpochs is the centroid fine-tuning budget of a candidate
// pruned for epochs epochs: a tenth, at least one (centroids settle
// quickly), and none without pruning epochs.
func searchClusterEpochs(epochs int) int {
	if epochs <= 0 {
		return 0
	}
	return max(1, epochs/10)
}

// Sections are the HTML report's sections about the search: every
// candidate (Pareto frontier marked) and the per-layer sensitivities.
func (s *SearchResult) Sections() []report.Section {
	var rows []report.Row
	var extra []string
	for _, c := range s.Candidates {
		r := c.Row
		if !c.Within {
			r.Name += " (over)"
		}
		rows = append(rows, r)
		extra = append(extra, c.Config())
	}
	text := []string{fmt.Sprintf("Validation accuracy of the input %.2f%%, budget %.2f points, objective %s. Accuracy is on the validation split carved from the training data; ★ marks the Pareto frontier of validation accuracy against file size.",
		100*s.BaseVal, 100*s.MaxDrop, s.Objective)}
	if s.Best >= 0 {
		text = append(text, "Chosen: "+s.Candidates[s.Best].Name+" ("+s.Candidates[s.Best].Config()+").")
	} else {
		text = append(text, "No candidate was within the budget; the input was written unchanged.")
	}
	var sens [][2]string
	for _, p := range s.PruneSens {
		sens = append(sens, [2]string{fmt.Sprintf("prune %s %.0f%%", p.Layer, 100*p.Sparsity), fmt.Sprintf("%.2f%%", 100*p.Accuracy)})
	}
	for _, b := range slices.Sorted(maps.Keys(s.QuantSens)) {
		for _, l := range s.QuantSens[b] {
			sens = append(sens, [2]string{fmt.Sprintf("%d-bit codebook %s", b, l.Layer), fmt.Sprintf("%.2f%%", 100*l.Accuracy)})
		}
	}
	return []report.Section{
		{Title: "search candidates (per layer: sparsity / codebook bits)", Text: text, Rows: rows, Frontier: true, Plot: true, Extra: extra, ExtraTitle: "per-layer sparsity / bits"},
		{Title: "per-layer sensitivity (validation accuracy, one layer changed, no fine-tuning)", Fields: sens},
	}
}
