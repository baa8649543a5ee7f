using System.CommandLine;
using CalRec.Cli.Commands;
using Spectre.Console;

namespace CalRec.Cli;

/// <summary>
/// The one way a command runs: its body on a worker thread with the cancellation token Ctrl+C fires; an error the
/// user's input caused (<see cref="UserErrors"/>) becomes one line on stderr and exit code 2; cancellation becomes exit
/// code 130 with the command's own note (for example where its checkpoint is).
/// </summary>
internal static class CommandRunner
{
    /// <summary>Exit code of a cancelled command (128 + SIGINT).</summary>
    public const int CancelledExitCode = 130;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="body"/> run this way.</summary>
    public static void SetAction(Command command, Func<ParseResult, CancellationToken, int> body, Func<ParseResult, string>? cancelledNote = null) =>
        command.SetAction((p, ct) => Task.Run(() =>
        {
            try
            {
                return body(p, ct);
            }
            catch (OperationCanceledException)
            {
                AnsiConsole.MarkupLine($"[yellow]cancelled:[/] {Markup.Escape(cancelledNote?.Invoke(p) ?? "stopped before the end.")}");
                return CancelledExitCode;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
        }, CancellationToken.None));
}
