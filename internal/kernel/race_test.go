//go:build race

package kernel

// raceEnabled trims the heaviest test shapes under the (much slower) race
// detector; the concurrency they would exercise is covered by the rest.
const raceEnabled = true
