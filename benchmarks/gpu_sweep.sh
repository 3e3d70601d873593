#!/usr/bin/env bash
# The scale sweep on a GPU, in bf16 (TT cores and LoRA weights in float32 beside it, as the paper
# trains LLaMA), up to LLaMA-2-7B-sized layers: hidden 4096, intermediate 11008, 32 heads of 128.
# Writes its tables into benchmarks/RESULTS_gpu.md (between markers; the rest of the file stays).
#
#   bash benchmarks/gpu_sweep.sh            # 8 layers (1.9B parameters), eager: ~5 min on an H200
#   COMPILE=1 bash benchmarks/gpu_sweep.sh  # also torch.compile with CUDA graphs (reduce-overhead)
#   FULL7B=1 bash benchmarks/gpu_sweep.sh   # also the full 7B config: 32 layers, vocabulary 32000
#   TINY=1 bash benchmarks/gpu_sweep.sh     # a smoke test of this script, on the CPU if no GPU
#
# Every figure is a ratio to LoRA r=8 on q_proj, v_proj measured in the same run (methods timed
# in turn). Aims at >= 1B parameters: rep and adp step time <= 1.10x LoRA, peak memory <= LoRA's.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
if [[ "${TINY:-0}" == 1 ]]; then
    DEVICE=$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
    exec $PY scale_sweep.py --device "$DEVICE" --tiny
fi
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || true
COMMON=(--device cuda --dtype bfloat16 --hidden 4096 --batch 2 --seq 256 --repeats 10)
$PY scale_sweep.py "${COMMON[@]}" --layers 8 --gpu-report "8 layers, eager"
if [[ "${COMPILE:-0}" == 1 ]]; then
    $PY scale_sweep.py "${COMMON[@]}" --layers 8 --compile reduce-overhead \
        --gpu-report "8 layers, torch.compile reduce-overhead"
fi
if [[ "${FULL7B:-0}" == 1 ]]; then
    $PY scale_sweep.py "${COMMON[@]}" --layers 32 --vocab 32000 \
        --methods lora loretta_rep loretta_adp norms --gpu-report "LLaMA-2-7B config, eager"
fi
