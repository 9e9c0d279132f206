package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
)

// Conv4Config describes a Conv-4 backbone (Vinyals et al. 2016, Snell et al.
// 2017): Blocks × [3×3 convolution with padding 1 and a bias, batch norm,
// ReLU, 2×2 max-pool], then flatten.
type Conv4Config struct {
	InChannels    int // image channels: 3 for RGB, 1 for Omniglot
	Height, Width int // input size
	Hidden        int // channels of every block; 0 means 64
	Blocks        int // 0 means 4
}

// NewConv4 builds a Conv-4 backbone with He-normal convolution weights, zero
// biases, and batch-norm scale 1 and shift 0. For 84×84×3 inputs the
// embedding (OutSize) has 1600 elements; for 28×28×1, 64. It returns an error
// if the input is too small for the blocks.
func NewConv4[T engine.Float](cfg Conv4Config, rng *rand.Rand) (*Network[T], error) {
	hidden, blocks := orDefault(cfg.Hidden, 64), orDefault(cfg.Blocks, 4)
	if cfg.InChannels < 1 || hidden < 1 || blocks < 1 {
		return nil, fmt.Errorf("nn: Conv-4: %d input channels, %d hidden channels and %d blocks, all must be positive", cfg.InChannels, hidden, blocks)
	}
	var layers []Layer[T]
	in := cfg.InChannels
	for b := 1; b <= blocks; b++ {
		layers = appendBlock(layers, fmt.Sprintf("block%d", b), in, hidden, 1, true)
		in = hidden
	}
	layers = append(layers, Flatten[T]{})
	n, err := NewNetwork([]int{cfg.InChannels, cfg.Height, cfg.Width}, rng, layers...)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv-4 for %d×%d×%d input: %w", cfg.InChannels, cfg.Height, cfg.Width, err)
	}
	return n, nil
}

// appendBlock adds [3×3 conv (padding pad), batch norm, ReLU] and, if pool,
// a 2×2 max-pool.
func appendBlock[T engine.Float](layers []Layer[T], name string, in, out, pad int, pool bool) []Layer[T] {
	layers = append(layers, NewConv2D[T](name+".conv", in, out, 3, pad), NewBatchNorm2D[T](name+".bn", out), ReLU[T]{})
	if pool {
		layers = append(layers, MaxPool2D[T]{Window: engine.PoolSquare(2, 2)})
	}
	return layers
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// RelationConfig describes a Relation Network (Sung et al. 2018): an
// embedding of four blocks [3×3 conv, batch norm, ReLU], the first two
// followed by a 2×2 max-pool, and a relation module that scores a pair of
// concatenated embeddings with two blocks [3×3 conv, batch norm, ReLU, 2×2
// max-pool], a fully connected ReLU layer and a sigmoid output.
//
// The padding fields follow the original code when left zero: the first two
// embedding convolutions are unpadded and the last two padded by 1, which
// maps 84×84 to a 19×19 feature map. The relation convolutions are unpadded
// in the original mini-ImageNet model (19 → 8 → 3) but padded by 1 in its
// Omniglot model, whose 5×5 maps would not survive two unpadded blocks; see
// [RelationOmniglot] and [RelationMiniImageNet].
type RelationConfig struct {
	InChannels    int
	Height, Width int
	Hidden        int // channels of every convolution; 0 means 64
	FCHidden      int // width of the hidden fully connected layer; 0 means 8
	// EmbedPad is the padding of the first two embedding convolutions
	// (the last two always use 1).
	EmbedPad int
	// RelationPad is the padding of the two relation-module convolutions.
	RelationPad int
}

// RelationMiniImageNet returns the original configuration for 84×84 RGB
// images.
func RelationMiniImageNet() RelationConfig {
	return RelationConfig{InChannels: 3, Height: 84, Width: 84}
}

// RelationOmniglot returns the original configuration for 28×28 grey
// images.
func RelationOmniglot() RelationConfig {
	return RelationConfig{InChannels: 1, Height: 28, Width: 28, RelationPad: 1}
}

// NewRelationNet builds the embedding network and the relation module of a
// Relation Network. The relation module takes [N, 2·Hidden, h, w]: a query
// embedding concatenated with a class embedding along the channels, and
// returns [N, 1] scores in (0, 1). Convolutions are He-normal initialised
// (fan-in; the original code used fan-out, available as InitHeNormalFanOut),
// fully connected layers as in PyTorch (uniform ±1/√fan-in).
func NewRelationNet[T engine.Float](cfg RelationConfig, rng *rand.Rand) (embed, relation *Network[T], err error) {
	hidden, fc := orDefault(cfg.Hidden, 64), orDefault(cfg.FCHidden, 8)
	if cfg.InChannels < 1 || hidden < 1 || fc < 1 || cfg.EmbedPad < 0 || cfg.RelationPad < 0 {
		return nil, nil, fmt.Errorf("nn: relation network: invalid configuration %+v", cfg)
	}
	var el []Layer[T]
	el = appendBlock(el, "embed1", cfg.InChannels, hidden, cfg.EmbedPad, true)
	el = appendBlock(el, "embed2", hidden, hidden, cfg.EmbedPad, true)
	el = appendBlock(el, "embed3", hidden, hidden, 1, false)
	el = appendBlock(el, "embed4", hidden, hidden, 1, false)
	embed, err = NewNetwork([]int{cfg.InChannels, cfg.Height, cfg.Width}, rng, el...)
	if err != nil {
		return nil, nil, fmt.Errorf("nn: relation network embedding for %d×%d×%d input: %w", cfg.InChannels, cfg.Height, cfg.Width, err)
	}
	fm := embed.OutShape()
	var rl []Layer[T]
	rl = appendBlock(rl, "relation1", 2*hidden, hidden, cfg.RelationPad, true)
	rl = appendBlock(rl, "relation2", hidden, hidden, cfg.RelationPad, true)
	pairShape := []int{2 * hidden, fm[1], fm[2]}
	// The fully connected input size is that of the convolutions' output.
	cs, err := chainShape(pairShape, rl)
	if err != nil {
		return nil, nil, fmt.Errorf("nn: relation module on %v feature maps: %w", fm[1:], err)
	}
	rl = append(rl, Flatten[T]{}, NewLinear[T]("fc1", cs[0]*cs[1]*cs[2], fc), ReLU[T]{}, NewLinear[T]("fc2", fc, 1), Sigmoid[T]{})
	if relation, err = NewNetwork(pairShape, rng, rl...); err != nil {
		return nil, nil, err
	}
	return embed, relation, nil
}

// NewMLP returns a multilayer perceptron: fully connected layers between the
// given sizes with a ReLU after every one but the last. sizes[0] is the input
// width.
func NewMLP[T engine.Float](rng *rand.Rand, sizes ...int) (*Network[T], error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("nn: MLP needs at least an input and an output size, got %v", sizes)
	}
	var layers []Layer[T]
	for i := 1; i < len(sizes); i++ {
		if sizes[i-1] < 1 || sizes[i] < 1 {
			return nil, fmt.Errorf("nn: MLP sizes %v must be positive", sizes)
		}
		layers = append(layers, NewLinear[T](fmt.Sprintf("fc%d", i), sizes[i-1], sizes[i]))
		if i < len(sizes)-1 {
			layers = append(layers, ReLU[T]{})
		}
	}
	return NewNetwork([]int{sizes[0]}, rng, layers...)
}
