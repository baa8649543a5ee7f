using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace CalRec.Torch.Devices;

/// <summary>
/// Device selection as Microsoft.ML.TorchSharp's trainers do it: <see cref="MLContext.GpuDeviceId"/> null means the CPU;
/// a GPU id with CUDA available means that GPU; a GPU id without CUDA throws unless <see cref="MLContext.FallbackToCpu"/>
/// is set, in which case the CPU is used and the fallback is logged. Plus the explicit backend choice.
/// </summary>
public static class TorchDevices
{
    /// <summary>The device <paramref name="mlContext"/>'s GPU settings select; a fallback to the CPU goes to <paramref name="log"/>.</summary>
    public static Device Select(MLContext mlContext, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return Select(mlContext.GpuDeviceId, mlContext.FallbackToCpu, mlContext.GpuDeviceId is not null && cuda.is_available(), log);
    }

    /// <summary>
    /// The device for <paramref name="gpuDeviceId"/> (null: CPU) given whether CUDA is <paramref name="cudaAvailable"/>;
    /// without CUDA a GPU request throws "Fallback to CPU is false but no GPU detected" unless
    /// <paramref name="fallbackToCpu"/>, which returns the CPU and says so through <paramref name="log"/>.
    /// </summary>
    public static Device Select(int? gpuDeviceId, bool fallbackToCpu, bool cudaAvailable, Action<string>? log = null)
    {
        if (gpuDeviceId is null)
        {
            return new Device(DeviceType.CPU);
        }

        if (cudaAvailable)
        {
            return new Device(DeviceType.CUDA, gpuDeviceId.Value);
        }

        if (!fallbackToCpu)
        {
            throw new InvalidOperationException("Fallback to CPU is false but no GPU detected");
        }

        log?.Invoke($"GPU {gpuDeviceId} was asked for but no CUDA device is available; falling back to the CPU.");
        return new Device(DeviceType.CPU);
    }

    /// <summary>
    /// Parses a <c>--device</c> value: <c>cpu</c>, <c>cuda</c> (GPU 0) or <c>cuda:N</c>, as an ML.NET GPU id (null: CPU).
    /// </summary>
    public static int? ParseDevice(string device)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        string d = device.Trim().ToLowerInvariant();
        if (d == "cpu")
        {
            return null;
        }

        if (d == "cuda")
        {
            return 0;
        }

        if (d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            return id;
        }

        throw new ArgumentException($"device '{device}' is not cpu, cuda or cuda:N.", nameof(device));
    }

    /// <summary>
    /// The backend <paramref name="requested"/> resolves to: <see cref="ComputeBackend.Auto"/> is TorchSharp when the
    /// selected device is a GPU and our managed engine otherwise (it is faster on CPU: see docs/benchmarks.md).
    /// </summary>
    public static ComputeBackend Resolve(ComputeBackend requested, Device device) => requested switch
    {
        ComputeBackend.Auto => device.type == DeviceType.CUDA ? ComputeBackend.TorchSharp : ComputeBackend.Managed,
        _ => requested,
    };

    /// <summary>
    /// Whether TorchSharp's native library loads in this process (the first call loads it); when it does not,
    /// <paramref name="reason"/> is the first line of TorchSharp's explanation. Our engine never needs it.
    /// </summary>
    public static bool Loads([NotNullWhen(false)] out string? reason)
    {
        try
        {
            _ = __version__;
            reason = null;
            return true;
        }
        catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException)
        {
            reason = (e.InnerException ?? e).Message.Split('\n')[0].Trim();
            return false;
        }
    }

    /// <summary>What this process found: TorchSharp and LibTorch versions, CUDA devices, threads (for <c>calrec doctor</c>).</summary>
    public static IReadOnlyList<(string Name, string Value)> Describe()
    {
        bool available = cuda.is_available();
        return
        [
            ("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?"),
            ("LibTorch", __version__),
            ("CUDA available", available ? "yes" : "no"),
            ("CUDA devices", available ? cuda.device_count().ToString(CultureInfo.InvariantCulture) : "0"),
            ("torch threads", get_num_threads().ToString(CultureInfo.InvariantCulture)),
            ("default backend", Resolve(ComputeBackend.Auto, available ? CUDA : CPU).ToString()),
        ];
    }
}
