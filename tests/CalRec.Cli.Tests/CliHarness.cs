using Spectre.Console;

namespace CalRec.Cli.Tests;

/// <summary>Runs the command line in process, capturing what it prints (plain text, the width of a redirected stdout).</summary>
internal static class CliHarness
{
    public static (int Code, string Out) Run(params string[] args)
    {
        TextWriter saved = Console.Out;
        IAnsiConsole savedAnsi = AnsiConsole.Console;
        var sw = new StringWriter();
        Console.SetOut(sw);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(sw), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        AnsiConsole.Console.Profile.Width = Program.RedirectedWidth;
        try
        {
            int code = Program.BuildRoot().Parse(args).Invoke();
            return (code, sw.ToString());
        }
        finally
        {
            Console.SetOut(saved);
            AnsiConsole.Console = savedAnsi;
        }
    }
}
