using System.CommandLine;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Torch.Decoder;
using CalRec.Torch.Devices;
using CalRec.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CalRec.Cli.Options;

/// <summary>
/// <c>--backend auto|managed|torchsharp</c> and <c>--device cpu|cuda|cuda:N</c>: which engine trains. <c>auto</c> is
/// TorchSharp on a CUDA device and our engine on the CPU (faster there, see docs/benchmarks.md). A CUDA device without
/// CUDA is an error, as MLContext's GPU settings are without FallbackToCpu.
/// </summary>
internal sealed class BackendArguments
{
    public Option<ComputeBackend> Backend { get; } = new("--backend") { Description = "Engine: auto (TorchSharp on a GPU, ours on the CPU), managed (ours) or torchsharp.", DefaultValueFactory = _ => ComputeBackend.Auto };

    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda (GPU 0) or cuda:N.", DefaultValueFactory = _ => "cpu" };

    public Option<string> Precision { get; } = new("--precision")
    {
        Description = "TorchSharp training precision: fp32, or bf16 mixed precision (a bfloat16 working copy runs forward and backward, float32 master weights).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>Adds the flags; <paramref name="precision"/> also adds <c>--precision</c> (for the commands that train).</summary>
    public void AddTo(Command command, bool precision = false)
    {
        command.Options.Add(Backend);
        command.Options.Add(Device);
        if (precision)
        {
            Precision.AcceptOnlyFromAmong("fp32", "bf16");
            command.Options.Add(Precision);
        }
    }

    /// <summary>The training precision <c>--precision</c> selects; bf16 needs the TorchSharp backend.</summary>
    public TrainingPrecision ResolvePrecision(ParseResult p, ComputeBackend backend)
    {
        TrainingPrecision precision = p.GetValue(Precision) == "bf16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32;
        return precision == TrainingPrecision.BFloat16 && backend != ComputeBackend.TorchSharp
            ? throw new ArgumentException("--precision bf16 trains on TorchSharp only; add --backend torchsharp (our engine trains in float32).")
            : precision;
    }

    /// <summary>The backend and device the flags select (throws for a GPU without CUDA, or the managed engine on a GPU).</summary>
    public (ComputeBackend Backend, Device Device) Resolve(ParseResult p)
    {
        string requested = p.GetValue(Device)!;
        int? gpu = TorchDevices.ParseDevice(requested);
        if (NeedsTorchSharp(p.GetValue(Backend), gpu) && !TorchDevices.Loads(out string? reason))
        {
            throw new ArgumentException($"--backend {p.GetValue(Backend).ToString().ToLowerInvariant()} --device {requested} needs TorchSharp, whose native library does not load here: {reason} (see the README, Troubleshooting; our engine trains on the CPU without it: --backend managed --device cpu).");
        }

        if (gpu is not null && !cuda.is_available())
        {
            throw new ArgumentException($"--device {requested}: no CUDA device is available here (with the TorchSharp-cpu package, or without an NVIDIA GPU); use --device cpu, or see the README's troubleshooting for GPUs.");
        }

        Device device = TorchDevices.Select(gpu, fallbackToCpu: false, cudaAvailable: gpu is not null);
        ComputeBackend backend = TorchDevices.Resolve(p.GetValue(Backend), device);
        if (backend == ComputeBackend.Managed && device.type != DeviceType.CPU)
        {
            throw new ArgumentException($"--backend managed runs on the CPU only; use --backend torchsharp (or auto) for {p.GetValue(Device)}.");
        }

        return (backend, device);
    }

    /// <summary>
    /// Whether the flags need TorchSharp's native library: a GPU, or <c>--backend torchsharp</c>. Our engine on the CPU
    /// (the default) never loads it, so a machine where it cannot load still trains.
    /// </summary>
    internal static bool NeedsTorchSharp(ComputeBackend requested, int? gpu) => gpu is not null || requested == ComputeBackend.TorchSharp;

    /// <summary>The causal-LM training engine for <paramref name="model"/> (copied onto TorchSharp when that is the backend).</summary>
    public static ICausalLmBackend CausalLm(ComputeBackend backend, Device device, DecoderLM model, CausalLmTrainerOptions options, TrainingPrecision precision = TrainingPrecision.Float32) =>
        backend == ComputeBackend.TorchSharp
        ? new TorchCausalLmBackend(TorchWeights.ToTorch(model, device), options.LearningRate, options.WeightDecay, options.Seed, precision)
        : new ManagedCausalLmBackend(model, options.LearningRate, options.WeightDecay);
}
