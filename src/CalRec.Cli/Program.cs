using System.CommandLine;
using CalRec.Cli.Commands;
using CalRec.Cli.Commands.Train;
using Spectre.Console;

namespace CalRec.Cli;

/// <summary>Entry point of the <c>calrec</c> tool.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the chosen command.</summary>
    /// <remarks>
    /// On Ctrl+C the running command's cancellation token fires and long commands stop after their current step and save
    /// a checkpoint; the process waits up to <see cref="ShutdownGrace"/> for that before exiting with code 130.
    /// </remarks>
    public static Task<int> Main(string[] args)
    {
        if (Console.IsOutputRedirected)
        {
            // Into a file or a pipe: no colour codes and no wrapping at 80 columns (table cells and messages stay whole).
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
                Out = new AnsiConsoleOutput(Console.Out),
            });
            AnsiConsole.Profile.Width = RedirectedWidth;
        }

        return BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = ShutdownGrace });
    }

    /// <summary>The line width when standard output is not a terminal (wide enough that nothing wraps).</summary>
    internal const int RedirectedWidth = 4096;

    /// <summary>How long Ctrl+C waits for a command to finish its clean stop.</summary>
    public static TimeSpan ShutdownGrace { get; } = TimeSpan.FromMinutes(5);

    /// <summary>The full command tree (also used by tests).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("calrec: train and serve LLM-style sequential recommenders on the CPU.\n"
            + "Exit codes: 0 done; 1 the command line could not be parsed, or the machine failed (disk full, no permission); "
            + "2 the input is wrong (data, model, settings; one line says which file, line and field); 130 cancelled (Ctrl+C).");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(TokenizerCommands.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(RecommendCommand.CreateRecommend());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(DataCommands.Create());
        root.Subcommands.Add(BenchCommands.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        return root;
    }
}
