#!/usr/bin/env bash
# Prepares PyTorch exports of torchvision classification networks for
# TestTorchvision (see README.md): installs Debian's python3-torchvision and
# python3-onnx with apt-get when they are missing, exports every NAME[:OPSET]
# not yet in the cache folder (outside the checkout: the files are large),
# and prints two lines for run.sh: the folder and the case names (two empty
# lines when PyTorch cannot be installed).
#
#   FEWSHOT_TORCHVISION=all          the full list instead of the CI subset
#   FEWSHOT_TORCHVISION_MODELS="..." any other list of NAME[:OPSET]
#   FEWSHOT_TORCHVISION_CACHE=DIR    the cache (default ~/.cache/fewshot-torchvision)
set -euo pipefail
cd "$(dirname "$0")"

# CI: one network per torchvision family and every operator family the
# exports use, at opsets 13 to 17 (LayerNormalization-17, HardSwish-14).
ci="resnet18 resnet18-features resnet50:17 mobilenet_v2 mobilenet_v2:17 mobilenet_v3_small
mobilenet_v3_small:17 shufflenet_v2_x1_0 squeezenet1_1 mnasnet0_5 efficientnet_b0 regnet_y_400mf
densenet121 googlenet alexnet convnext_tiny convnext_tiny:17 vit_b_16:14 vit_b_16:17 swin_t:17"
# Also: the other sizes and variants of those families, and opsets 15 and 16.
more="squeezenet1_0 shufflenet_v2_x0_5 mnasnet1_0 mobilenet_v3_large regnet_x_400mf resnext50_32x4d
efficientnet_v2_s inception_v3 vit_b_32 swin_t convnext_tiny:16 resnet18:15 regnet_y_400mf:15
mnasnet0_5:16 densenet121:17 googlenet:17 alexnet:17 efficientnet_b0:17 shufflenet_v2_x1_0:17
squeezenet1_1:17"
models=${FEWSHOT_TORCHVISION_MODELS:-$ci}
if [ "${FEWSHOT_TORCHVISION:-}" = all ]; then
	models="$ci $more"
fi

py=/usr/bin/python3
if ! "$py" -c 'import torch, torchvision, onnx' 2>/dev/null; then
	echo "torchvision: installing python3-torchvision and python3-onnx with apt-get" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo -n"
	fi
	if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torchvision python3-onnx; } >&2; then
		# No folder: TestTorchvision skips, or fails under FEWSHOT_REQUIRE_SHARED=1.
		echo "torchvision: cannot install python3-torchvision and python3-onnx; TestTorchvision will not run" >&2
		printf '\n\n'
		exit 0
	fi
fi

# A new PyTorch or a changed exporter makes new files, so both key the cache.
versions=$("$py" -c 'import torch, torchvision; print(torch.__version__ + "-" + torchvision.__version__)')
script=$(sha256sum torchvision_export.py | cut -c1-12)
dir=${FEWSHOT_TORCHVISION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fewshot-torchvision}/$versions-$script
mkdir -p "$dir"

todo=() cases=()
for spec in $models; do
	name=${spec%%:*} opset=13
	if [[ $spec == *:* ]]; then
		opset=${spec#*:}
	fi
	cases+=("$name-op$opset")
	if [ ! -f "$dir/$name-op$opset/test_data_set_0/output_0.pb" ]; then
		todo+=("$spec")
	fi
done
if [ ${#todo[@]} -gt 0 ]; then
	echo "torchvision: exporting ${#todo[@]} models into $dir" >&2
	start=$SECONDS
	# A failed export leaves its case missing, which the test reports.
	"$py" torchvision_export.py "$dir" "${todo[@]}" >&2 || echo "torchvision: some exports failed" >&2
	echo "torchvision: exports took $((SECONDS - start)) s" >&2
fi
echo "$dir"
echo "${cases[*]}"
