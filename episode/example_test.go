package episode_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fewshot-go/fewshot/episode"
)

// Open a folder of class folders, decode it, and sample a 5-way 1-shot task
// with 2 query images per class.
func Example() {
	ds, err := episode.Load("../testdata/omniglot", "")
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	// Real programs usually keep the default cache (DecodeOptions{}).
	d, err := episode.Decode(context.Background(), ds, episode.OmniglotPreprocess(), episode.DecodeOptions{NoCache: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.NumClasses(), "classes,", d.NumImages(), "images")

	s := episode.NewSampler(d, 1)
	task, err := s.Task(episode.Fixed(5, 1, 2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("support", task.Support.N, task.Support.C, task.Support.H, task.Support.W, task.Support.Labels)
	fmt.Println("query", task.Query.N, task.Query.Labels)
	// Output:
	// 6 classes, 30 images
	// support 5 1 28 28 [0 1 2 3 4]
	// query 10 [0 0 1 1 2 2 3 3 4 4]
}

// Evaluation episodes are a fixed list: episode i depends only on the seed
// and i, so every model is scored on the same tasks.
func ExampleDecoded_Episode() {
	ds, err := episode.OpenDir("../testdata/omniglot")
	if err != nil {
		log.Fatal(err)
	}
	d, err := episode.Decode(context.Background(), ds, episode.OmniglotPreprocess(), episode.DecodeOptions{NoCache: true})
	if err != nil {
		log.Fatal(err)
	}
	a, _ := d.Episode(episode.Fixed(3, 1, 1), 2024, 7)
	b, _ := d.Episode(episode.Fixed(3, 1, 1), 2024, 7)
	fmt.Println(a.Classes[0] == b.Classes[0], a.Query.Data[400] == b.Query.Data[400])
	// Output: true true
}

// Any-way any-shot pairs for L2G: a fixed 5-way 1-shot first task and a
// second task of 2 or 3 ways and 1 or 2 shots on other classes, delivered
// by a background goroutine.
func ExamplePrefetch() {
	ds, err := episode.OpenDir("../testdata/omniglot")
	if err != nil {
		log.Fatal(err)
	}
	d, err := episode.Decode(context.Background(), ds, episode.OmniglotPreprocess(), episode.DecodeOptions{NoCache: true})
	if err != nil {
		log.Fatal(err)
	}
	s := episode.NewSampler(d, 7)
	first := episode.Fixed(3, 1, 2)
	second := episode.Config{Ways: []int{2, 3}, Shots: []int{1, 2}, Query: 2}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the producer
	pairs := episode.Prefetch(ctx, 4, func() ([]*episode.Pair, error) { return s.MetaBatch(first, second, 2) })
	for range 3 {
		r := <-pairs
		if r.Err != nil {
			log.Fatal(r.Err)
		}
		p := r.Value[0]
		fmt.Println(p.First.Way, p.First.Shot, "+", p.Second.Way >= 2, p.Second.Shot <= 2)
	}
	// Output:
	// 3 1 + true true
	// 3 1 + true true
	// 3 1 + true true
}

// A Preprocess travels with a model as JSON.
func ExampleParsePreprocess() {
	s := episode.OmniglotPreprocess().String()
	fmt.Println(s)
	p, err := episode.ParsePreprocess(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Width, p.Height, p.Channels, p.Invert)
	// Output:
	// {"width":28,"height":28,"channels":1,"filter":"linear","invert":true}
	// 28 28 1 true
}
