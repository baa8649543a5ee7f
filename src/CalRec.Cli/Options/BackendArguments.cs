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

    public void AddTo(Command command)
    {
        command.Options.Add(Backend);
        command.Options.Add(Device);
    }

    /// <summary>The backend and device the flags select (throws for a GPU without CUDA, or the managed engine on a GPU).</summary>
    public (ComputeBackend Backend, Device Device) Resolve(ParseResult p)
    {
        string requested = p.GetValue(Device)!;
        int? gpu = TorchDevices.ParseDevice(requested);
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

    /// <summary>The causal-LM training engine for <paramref name="model"/> (copied onto TorchSharp when that is the backend).</summary>
    public static ICausalLmBackend CausalLm(ComputeBackend backend, Device device, DecoderLM model, CausalLmTrainerOptions options) => backend == ComputeBackend.TorchSharp
        ? new TorchCausalLmBackend(TorchWeights.ToTorch(model, device), options.LearningRate, options.WeightDecay, options.Seed)
        : new ManagedCausalLmBackend(model, options.LearningRate, options.WeightDecay);
}
