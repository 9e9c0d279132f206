package plot_test

import (
	"fmt"
	"strings"

	"github.com/fewshot-go/fewshot/internal/plot"
)

func ExampleParseLog() {
	log := `{"episode":100,"loss":0.9,"acc":0.71,"lr":0.001,"seconds":12.5}
{"episode":200,"loss":0.6,"acc":0.80,"lr":0.001,"seconds":25.1}
{"episode":200,"val_acc":0.83,"val_ci95":0.012}
`
	run, err := plot.ParseLog(strings.NewReader(log), "metrics.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(run.Loss), "loss points; last", run.Loss[1])
	fmt.Printf("validation at episode %v: %.1f%% ± %.1f\n", run.Val[0].Episode, 100*run.Val[0].Acc, 100*run.Val[0].CI95)

	_, err = plot.ParseLog(strings.NewReader(`{"episode":1,"loss":}`), "metrics.jsonl")
	fmt.Println(err != nil && strings.HasPrefix(err.Error(), "metrics.jsonl:1: malformed JSON"))
	// Output:
	// 2 loss points; last {200 0.6}
	// validation at episode 200: 83.0% ± 1.2
	// true
}
