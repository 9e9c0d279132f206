#!/usr/bin/env bash
# Cross-checks ONNX models in onnxruntime, onnx-go and the fewshot SDK's own
# executor (see README.md). Installs onnxruntime-node into ort/ when it is
# missing or not the pinned version, then runs the Go tests of this module.
# Extra arguments go to `go test` (for example -v or -run).
# Needs Go, Node.js 20+ and npm; torchvision.sh installs PyTorch with apt-get.
set -euo pipefail
cd "$(dirname "$0")"

pinned=$(node -p 'require("./ort/package.json").dependencies["onnxruntime-node"]')
installed=$(node -p 'try { require("./ort/node_modules/onnxruntime-node/package.json").version } catch (e) { "" }')
if [ "$installed" != "$pinned" ]; then
	echo "interop: installing onnxruntime-node $pinned into ort/ (found '${installed}')"
	# The package ships its native library; its install script only fetches
	# optional GPU files, so it is skipped.
	(cd ort && npm ci --ignore-scripts --no-audit --no-fund)
fi
# PyTorch exports of torchvision networks for TestTorchvision; set
# FEWSHOT_TORCHVISION=skip to leave them out (the test then skips, or fails
# under FEWSHOT_REQUIRE_SHARED=1).
if [ "${FEWSHOT_TORCHVISION:-}" != skip ]; then
	tv=$(./torchvision.sh)
	FEWSHOT_TORCHVISION_DIR=$(sed -n 1p <<<"$tv")
	FEWSHOT_TORCHVISION_CASES=$(sed -n 2p <<<"$tv")
	export FEWSHOT_TORCHVISION_DIR FEWSHOT_TORCHVISION_CASES
fi
go test "$@" ./...
