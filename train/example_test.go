package train_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/train"
)

func ExampleAlgorithms() {
	fmt.Println(train.Algorithms())
	// Output:
	// [l2g-proto l2g-relation maml maml-proto maml-relation matching meta-lstm proto relation]
}

// Train L2G-ProtoNet on Omniglot, keep the best checkpoint by validation
// accuracy, then evaluate it on the test split with the standard protocol.
func ExampleRun() {
	ctx := context.Background()
	open := func(split string) *episode.Decoded {
		ds, err := episode.Load("shared/data/omniglot", split)
		if err != nil {
			log.Fatal(err)
		}
		defer ds.Close()
		d, err := episode.Decode(ctx, ds, ds.Pre, episode.DecodeOptions{})
		if err != nil {
			log.Fatal(err)
		}
		return d
	}
	algo, err := train.New(train.Spec{Algo: "l2g-proto", InChannels: 1, Height: 28, Width: 28, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	sum, err := train.Run(ctx, algo, train.Options{
		Train: open("vinyals-train"), Task: episode.Fixed(20, 5, 5), Episodes: 10000, Seed: 1,
		LRDecayEvery: 10000, Val: open("vinyals-val"), ValTask: episode.Fixed(5, 5, 15), ValEvery: 500,
		Dir: "runs/l2g-omniglot", Resume: true, Progress: os.Stderr,
	})
	if err != nil {
		log.Fatal(err)
	}
	ckpt, err := train.LoadCheckpoint("runs/l2g-omniglot/" + train.BestFile)
	if err != nil {
		log.Fatal(err)
	}
	best, err := ckpt.Algorithm()
	if err != nil {
		log.Fatal(err)
	}
	res, err := train.Evaluate(ctx, best, open("vinyals-test"), episode.Fixed(5, 5, 15), 600, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("best validation %.2f%% at episode %d; test %s\n", 100*sum.BestVal, sum.BestEpisode, res)
}
