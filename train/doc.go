// Package train meta-trains few-shot classifiers and evaluates them.
//
// # Algorithms
//
// Every learner implements [Algorithm]; [New] builds one from a [Spec] by
// name:
//
//   - "proto": Prototypical Networks (Snell et al. 2017). Prototypes are the
//     class means of the support embeddings, logits the negative squared
//     Euclidean distances of the query embeddings to them.
//   - "relation": Relation Networks (Sung et al. 2018). A class is the sum of
//     its support feature maps; each (class, query) pair is concatenated
//     along the channels and scored in (0, 1) by a relation module, trained
//     with the mean squared error against the one-hot labels.
//   - "matching": Matching Networks (Vinyals et al. 2016) without full
//     context embeddings: a query attends to the supports with a softmax
//     over cosine similarities, and a class's probability is the attention
//     mass on its supports.
//   - "maml": MAML (Finn et al. 2017) with a linear softmax head on Conv-4.
//   - "maml-proto", "maml-relation": the bilevel step of MAML on one task with
//     a metric learner: an inner step on the support set's own loss (the
//     supports classified against their prototypes), then the query loss at
//     the adapted weights.
//   - "meta-lstm": the meta-learner LSTM of Ravi & Larochelle (2017). The
//     learner is MAML's Conv-4 classifier with a Way-way linear head; a
//     two-layer coordinate-wise LSTM (hidden size 20 over the preprocessed
//     gradient and loss, then a cell whose state is the learner's weights,
//     θ_t = f_t ⊙ θ_{t−1} − i_t ⊙ ∇_t) updates it InnerSteps times (default
//     5) on the supports, starting from meta-learned initial weights; the
//     meta-loss is the query loss after the last update. The learner's
//     gradients are inputs (no second derivatives), as in the paper;
//     [Spec.BPTTSteps] truncates the backpropagation through the updates.
//   - "l2g-proto", "l2g-relation": Learning to Generalize. For each of k task
//     pairs (T_i, T_j) on disjoint classes, θ' = θ − α∇L_{T_i}(θ) and the
//     meta-objective is Σ L_{T_j}(θ'), differentiated through the inner
//     gradient (exact second order unless [Spec.FirstOrder]).
//
// # Batch normalisation
//
// During training every forward pass normalises with the statistics of the
// batch it is given, inner and outer passes alike, so each task (and each
// adapted weight vector) is normalised with its own statistics and gradients
// flow through them. A metric learner embeds the support and query images of
// a task in one batch (Relation Networks: two batches, as in the original).
//
// Running statistics, which evaluation uses, are updated only by the forward
// passes at the weights that are used at test time: at θ for proto,
// relation, matching and the L2G learners (whose outer passes at θ' leave
// them alone), and at the adapted weights for the MAML family, which adapts
// at test time too.
//
// Evaluation ([Algorithm.Predict], [Evaluate]) uses the running statistics
// (nn.Eval), so it is not transductive: no query's embedding depends on the
// other queries or on the supports. MAML's test-time inner steps use them
// as well.
//
// meta-lstm is the exception, following its paper: its learner normalises
// with batch statistics at test time too (the supports in the updates, all
// of a task's queries together for the prediction), so its evaluation is
// transductive over each task's queries. It never uses running statistics;
// they are updated at θ_0 by the first support pass of each training task
// only so that its exported embedding (θ_0 without the meta-learner, which
// is not the model it evaluates) has statistics to fold.
//
// # Training loop
//
// [Run] trains an Algorithm with Adam, a step learning-rate schedule and
// optional gradient-norm clipping, validates every few episodes on a
// validation split (never the test split), keeps the best checkpoint, writes
// a JSON-lines metrics log and resumable checkpoints. Episode e's tasks
// depend only on (seed, e), so a run resumed from a checkpoint continues
// exactly as the uninterrupted run would have.
package train
