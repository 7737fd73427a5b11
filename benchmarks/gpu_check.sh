#!/usr/bin/env bash
# The project's one prepared GPU check, for a lent CUDA machine that has torch and the CPU
# build of onnxruntime but no network (onnx2torch travels as a wheel in .devcarry/).
#   bash benchmarks/gpu_check.sh OUTDIR
# 1) engine vs released per-pair structure on CUDA (bench_engine --quick), with exactness;
# 2) xssab-bench end to end with the torch import on CUDA, ONNX Runtime on the CPU.
set -u
OUTDIR=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUTDIR"
if ls .devcarry/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .devcarry/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD:$PWD/plugins
fi
export PYTHONUNBUFFERED=1 XSSAB_HOME=/tmp/xssab_gpu_home
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'ort', o.__version__, o.get_available_providers())"
timeout 170 python3 benchmarks/bench_engine.py --device cuda --quick \
    --json "$OUTDIR/engine_cuda.json" 2>&1 | tee "$OUTDIR/engine_cuda.log" | tail -40
start=$(date +%s)
timeout 110 python3 -c "import sys; from xssab.cli.bench import main; sys.exit(main(sys.argv[1:]))" \
    --device cuda --ort-device cpu --methods xssab,xcos,random --pairs 200 \
    --out /tmp/gpu_bench_out 2>&1 | tail -45
echo "xssab-bench (cuda/ort-cpu, 200 pairs, 3 methods, 4 models): $(( $(date +%s) - start )) s"
cp /tmp/gpu_bench_out/results.json "$OUTDIR/bench_results.json" 2>/dev/null
exit 0
