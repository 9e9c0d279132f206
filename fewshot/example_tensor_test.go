package fewshot_test

import (
	"fmt"
	"log"

	"github.com/fewshot-go/fewshot/fewshot"
)

// Evaluation code that holds preprocessed tensors (package episode's task
// sets) embeds every image once and classifies from the embeddings.
func ExampleClassifier_EmbedTensor() {
	clf, err := fewshot.New(exampleModel())
	if err != nil {
		log.Fatal(err)
	}
	pre := clf.Model().Info().Preprocess
	// Three supports (labels a, b, c) then two queries, back to back in
	// CHW order, as episode.Set.Data holds them.
	var x []float32
	for _, seed := range []uint64{1, 2, 3, 3, 1} {
		v, err := pre.Image(glyph(seed))
		if err != nil {
			log.Fatal(err)
		}
		x = append(x, v...)
	}
	emb, err := clf.EmbedTensor(x, 5)
	if err != nil {
		log.Fatal(err)
	}
	d := clf.Model().Info().EmbeddingSize()
	protos, err := clf.FitEmbeddings([]string{"a", "b", "c"}, emb[:3*d])
	if err != nil {
		log.Fatal(err)
	}
	preds, err := protos.PredictEmbeddings(emb[3*d:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(preds[0].Label, preds[1].Label)
	// Output: c a
}
