using System.Diagnostics;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Tensors.Threading;
using CalRec.Torch.Decoder;
using CalRec.Torch.Devices;
using CalRec.Torch.Training;

namespace CalRec.Bench;

/// <summary>
/// Training throughput of a GPT-2-style decoder (LayerNorm, GELU 4x MLP, learned positions, tied embeddings, AdamW),
/// the same model, sizes and step as the PyTorch reference <c>shared/tools/torch_gpt_bench.py</c>.
/// </summary>
internal static class TrainBenchmark
{
    public static readonly IReadOnlyDictionary<string, (int Vocab, int D, int Layers, int Heads, int Seq, int Batch, int Steps)> Configs =
        new Dictionary<string, (int, int, int, int, int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["S"] = (8192, 256, 4, 4, 128, 32, 5),
            ["M"] = (8192, 512, 8, 8, 128, 16, 4),
            ["XS"] = (2048, 128, 2, 4, 64, 8, 5),
        };

    public static BenchResult Run(string configName, int? stepsOverride = null, ComputeBackend backend = ComputeBackend.Managed, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        if (precision == TrainingPrecision.BFloat16 && backend != ComputeBackend.TorchSharp)
        {
            throw new ArgumentException("--precision bf16 runs on TorchSharp only: add --backend torchsharp.");
        }

        if (!Configs.TryGetValue(configName, out var c))
        {
            throw new ArgumentException($"Unknown benchmark config '{configName}' (known: {string.Join(", ", Configs.Keys)}).");
        }

        var config = new DecoderConfig
        {
            Architecture = DecoderArchitecture.Gpt2,
            ModelType = "gpt2",
            VocabSize = c.Vocab,
            HiddenSize = c.D,
            NumLayers = c.Layers,
            NumHeads = c.Heads,
            NumKeyValueHeads = c.Heads,
            IntermediateSize = 4 * c.D,
            MaxPositions = c.Seq,
        };
        var model = new DecoderLM(config, seed: 0);
        var g = new SeededRandom(1);
        int n = c.Batch * c.Seq;
        int[] ids = new int[n], targets = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = g.NextInt(c.Vocab);
            targets[i] = g.NextInt(c.Vocab);
        }

        Action step = precision == TrainingPrecision.BFloat16 ? MixedPrecisionStep(model, ids, targets, c.Batch, c.Seq)
            : backend == ComputeBackend.TorchSharp ? TorchStep(model, ids, targets, c.Batch, c.Seq) : ManagedStep(model, ids, targets, c.Batch, c.Seq);
        void Step() => step();

        Step();
        Step();
        int steps = stepsOverride ?? c.Steps;
        long allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++)
        {
            Step();
        }

        double seconds = sw.Elapsed.TotalSeconds / steps;
        long allocPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / steps;
        // Model FLOPs per token: 6·(matmul parameters incl. the tied output projection) + 12·L·T·d for attention scores.
        double matmulParams = (12.0 * c.Layers * c.D * c.D) + ((double)c.Vocab * c.D);
        double flopsPerToken = (6 * matmulParams) + (12.0 * c.Layers * c.Seq * c.D);
        double tps = n / seconds;
        return new BenchResult
        {
            Name = backend == ComputeBackend.TorchSharp
                ? $"train-gpt2-torchsharp-{TorchSharp.torch.__version__}{(precision == TrainingPrecision.BFloat16 ? "-bf16-mixed" : string.Empty)}"
                : "train-gpt2",
            Config = configName.ToUpperInvariant(),
            Threads = backend == ComputeBackend.TorchSharp ? TorchSharp.torch.get_num_threads() : WorkerPool.Shared.ThreadCount,
            TokensPerSecond = Math.Round(tps, 1),
            Gflops = Math.Round(tps * flopsPerToken / 1e9, 1),
            ManagedBytesPerStep = allocPerStep,
            PeakWorkingSetMb = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            Parameters = model.parameter_count(),
            Seconds = Math.Round(seconds, 4),
        };
    }

    // torch.optim.AdamW's defaults on both engines: lr 1e-3, betas (0.9, 0.999), weight decay 0.01 on every parameter.
    private static Action ManagedStep(DecoderLM model, int[] ids, int[] targets, int batch, int seq)
    {
        var opt = new AdamWOptimizer([new ParameterGroup(model.parameters().ToList(), 0.01f)], lr: 1e-3f);
        return () =>
        {
            using TensorScope scope = TensorScope.Begin();
            ManagedTensor loss = model.Loss(ids, targets, batch, seq);
            opt.zero_grad();
            loss.backward();
            opt.step();
        };
    }

    // The product's mixed-precision step (TorchCausalLmBackend with a bfloat16 working copy): forward and backward in
    // bfloat16, gradients into the float32 master, clipping (effectively off) and AdamW, the master copied back.
    private static Action MixedPrecisionStep(DecoderLM model, int[] ids, int[] targets, int batch, int seq)
    {
        TorchSharp.torch.set_num_threads(WorkerPool.Shared.ThreadCount);
        var backend = new TorchCausalLmBackend(TorchWeights.ToTorch(model), 1e-3f, 0.01f, seed: 0, TrainingPrecision.BFloat16);
        TokenBatch[] whole = [new TokenBatch(ids, targets, batch, seq)];
        return () => backend.TrainStep(whole, 1e-3f, clipNorm: float.MaxValue);
    }

    private static Action TorchStep(DecoderLM model, int[] ids, int[] targets, int batch, int seq)
    {
        // The same thread count as our engine's worker pool (--threads sets both).
        TorchSharp.torch.set_num_threads(WorkerPool.Shared.ThreadCount);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(model);
        torchModel.train();
        var opt = TorchSharp.torch.optim.AdamW(torchModel.parameters(), lr: 1e-3, weight_decay: 0.01);
        TorchSharp.torch.Tensor input = TorchSharp.torch.tensor(ids.Select(i => (long)i).ToArray(), [batch, seq]);
        TorchSharp.torch.Tensor target = TorchSharp.torch.tensor(targets.Select(i => (long)i).ToArray(), [batch, seq]);
        return () =>
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            TorchSharp.torch.Tensor loss = torchModel.Loss(input, target);
            opt.zero_grad();
            loss.backward();
            opt.step();
        };
    }
}
