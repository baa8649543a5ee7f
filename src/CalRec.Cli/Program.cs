using System.CommandLine;
using CalRec.Cli.Commands;

namespace CalRec.Cli;

/// <summary>Entry point of the <c>calrec</c> tool.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the chosen command.</summary>
    public static Task<int> Main(string[] args) => BuildRoot().Parse(args).InvokeAsync();

    /// <summary>The full command tree (also used by tests).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("calrec: train and serve LLM-style sequential recommenders on the CPU.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(TokenizerCommands.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(BenchCommands.Create());
        return root;
    }
}
