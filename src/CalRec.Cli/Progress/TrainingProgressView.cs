using CalRec.Recommenders.CalRec;
using Spectre.Console;

namespace CalRec.Cli.Progress;

/// <summary>
/// Shows CALRec training progress: on an interactive terminal a Spectre.Console progress bar per phase (loss terms,
/// tokens/s, time left); otherwise one line every 5% of a phase and at every validation.
/// </summary>
internal static class TrainingProgressView
{
    /// <summary>Runs <paramref name="train"/>, showing what it reports to the progress sink it is given.</summary>
    public static T Run<T>(Func<IProgress<CalRecProgress>, T> train)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return train(new Sink(e =>
            {
                int every = Math.Max(1, e.TotalSteps / 20);
                if (e.Step % every == 0 || e.Step == e.TotalSteps || e.ValidationNdcg10 is not null)
                {
                    AnsiConsole.MarkupLine(Markup.Escape(Describe(e)));
                }
            }));
        }

        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(view =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                result = train(new Sink(e =>
                {
                    if (!tasks.TryGetValue(e.Label, out ProgressTask? task))
                    {
                        tasks[e.Label] = task = view.AddTask(e.Label, maxValue: e.TotalSteps);
                    }

                    task.Value = e.Step;
                    task.Description = Markup.Escape(Describe(e));
                }));
            });
        return result;
    }

    private static string Describe(CalRecProgress e)
    {
        var parts = new List<string> { FormattableString.Invariant($"{e.Label} {e.Step}/{e.TotalSteps}"), FormattableString.Invariant($"loss {e.Loss:F3}") };
        if (!float.IsNaN(e.LmLoss))
        {
            parts.Add(FormattableString.Invariant($"lm {e.LmLoss:F3}"));
        }

        if (!float.IsNaN(e.ItemItemLoss))
        {
            parts.Add(FormattableString.Invariant($"tt {e.ItemItemLoss:F3}"));
        }

        if (!float.IsNaN(e.UserItemLoss))
        {
            parts.Add(FormattableString.Invariant($"ut {e.UserItemLoss:F3}"));
        }

        parts.Add(FormattableString.Invariant($"{e.TokensPerSecond:F0} tok/s"));
        parts.Add(FormattableString.Invariant($"ETA {e.Remaining:mm\\:ss}"));
        if (e.ValidationNdcg10 is double v)
        {
            parts.Add(FormattableString.Invariant($"val NDCG@10 {v:F4}"));
        }

        return string.Join("  ", parts);
    }

    // Reports on the training thread as the step happens (System.Progress<T> would post to the thread pool, out of order).
    private sealed class Sink(Action<CalRecProgress> report) : IProgress<CalRecProgress>
    {
        public void Report(CalRecProgress value) => report(value);
    }
}
