using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Spectre.Console;

namespace CalRec.Cli;

/// <summary>The trainers' progress, which reaches <c>MLContext.Log</c> through ML.NET channels, on the console.</summary>
internal static class TrainingLog
{
    private static readonly HashSet<string> Sources = new(StringComparer.Ordinal) { "MostPopular", "SasRec", "Llm2SasRec", "LlmSeqSim", "CalRec", "GroundItems" };

    /// <summary>Prints each information message of a trainer's channel with the time since <paramref name="clock"/> started.</summary>
    internal static void Attach(MLContext ml, Stopwatch clock) => ml.Log += (_, e) =>
    {
        if (e.Kind == ChannelMessageKind.Info && Sources.Contains(e.Source))
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]{clock.Elapsed:hh\\:mm\\:ss}[/] {e.RawMessage}");
        }
    };
}
