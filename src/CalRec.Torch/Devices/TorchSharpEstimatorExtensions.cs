using CalRec.MLNet;
using CalRec.Torch.CalRec;
using CalRec.Torch.SasRec;
using CalRec.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace CalRec.Torch.Devices;

/// <summary>
/// Training ML.NET estimators on TorchSharp with the device <c>MLContext</c> selects, as ML.NET's own TorchSharp
/// trainers do: <c>GpuDeviceId</c> null is the CPU, a GPU id is that GPU, and without CUDA a GPU id throws unless
/// <c>FallbackToCpu</c>, whose fallback is logged to <c>MLContext.Log</c>.
/// </summary>
public static class TorchSharpEstimatorExtensions
{
    /// <summary>
    /// CALRec's finetuning stages on TorchSharp, on the device <paramref name="mlContext"/> selects, in
    /// <paramref name="precision"/> (bfloat16 mixed precision on a GPU that has it); returns the options.
    /// </summary>
    public static CalRecEstimatorOptions UseTorchSharp(this CalRecEstimatorOptions options, MLContext mlContext, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Engine = TorchCalRecEngine.On(Select(mlContext), precision);
        return options;
    }

    /// <summary>
    /// SASRec's (or LLM2SASRec's) training steps on TorchSharp, on the device <paramref name="mlContext"/> selects, in
    /// <paramref name="precision"/>; returns the options.
    /// </summary>
    public static SasRecEstimatorOptions UseTorchSharp(this SasRecEstimatorOptions options, MLContext mlContext, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Engine = TorchSasRecEngine.On(Select(mlContext), precision);
        return options;
    }

    private static Device Select(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return TorchDevices.Select(mlContext, message =>
        {
            using IChannel channel = ((IHostEnvironment)mlContext).Start("TorchSharp");
            channel.Warning(MessageSensitivity.None, "{0}", message);
        });
    }
}
