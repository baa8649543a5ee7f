using System.CommandLine;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using CalRec.Tensors.Threading;
using CalRec.Torch.Devices;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec doctor</c>: what this machine offers each engine: our engine's threads and SIMD, and what TorchSharp found
/// (LibTorch version, CUDA devices, threads, the backend <c>auto</c> picks), or why TorchSharp does not load.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var cmd = new Command("doctor", "Show the engines, devices and threads this machine offers (and why TorchSharp does not load, if it does not).");
        CommandRunner.SetAction(cmd, (_, _) =>
        {
            var table = new Table().AddColumns("what", "found");
            table.AddRow("OS", Markup.Escape($"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})"));
            table.AddRow(".NET", Markup.Escape(RuntimeInformation.FrameworkDescription));
            table.AddRow("managed engine threads", WorkerPool.Shared.ThreadCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
            table.AddRow("managed engine SIMD", Markup.Escape($"{Vector<float>.Count * 32}-bit vectors; AVX2 {(Avx2.IsSupported ? "yes" : "no")}, FMA {(Fma.IsSupported ? "yes" : "no")}, AVX-512F {(Avx512F.IsSupported ? "yes" : "no")}"));
            int code = 0;
            if (TorchDevices.Loads(out string? reason))
            {
                foreach ((string name, string value) in TorchDevices.Describe())
                {
                    table.AddRow(Markup.Escape(name), Markup.Escape(value));
                }
            }
            else
            {
                table.AddRow("TorchSharp", Markup.Escape($"does not load: {reason} (see the README, Troubleshooting)"));
                code = 1;
            }

            AnsiConsole.Write(table);
            return code;
        });
        return cmd;
    }
}
