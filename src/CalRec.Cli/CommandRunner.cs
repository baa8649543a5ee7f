using System.CommandLine;
using CalRec.Cli.Commands;
using Spectre.Console;

namespace CalRec.Cli;

/// <summary>
/// The one way a command runs: its body on a worker thread with the cancellation token Ctrl+C fires; an error the
/// user's input caused (<see cref="UserErrors"/>) becomes one line and exit code 2; a failure of the machine (I/O,
/// permissions) one line, the command's note and exit code 1; cancellation exit code 130 with the command's own note
/// (for example where its checkpoint is).
/// </summary>
internal static class CommandRunner
{
    /// <summary>Exit code of a command the machine failed (disk full, no permission) or that could not be parsed.</summary>
    public const int EnvironmentExitCode = 1;

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
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The machine, not the input: a full disk, a folder without write permission. One line, and where the
                // work so far is (the command's note), not a stack trace.
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                AnsiConsole.MarkupLineInterpolated($"{cancelledNote?.Invoke(p) ?? string.Empty}");
                return EnvironmentExitCode;
            }
        }, CancellationToken.None));
}
