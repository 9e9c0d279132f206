module github.com/fewshot-go/fewshot

go 1.26.0

require (
	github.com/disintegration/imaging v1.6.2 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	golang.org/x/image v0.0.0-20191009234506-e7c1f5e7dbb8 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
