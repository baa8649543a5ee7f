using CalRec.Data;
using CalRec.Recommenders.Persistence;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>Errors caused by the user's input: printed as one clear line with exit code 2 instead of a stack trace.</summary>
internal static class UserErrors
{
    public const int ExitCode = 2;

    public static bool Is(Exception ex) =>
        ex is DataFormatException or ModelFormatException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException or FormatException
            or InvalidDataException or ArgumentException or OutputInUseException;

    /// <summary>A warning about the input: to standard error, so that standard output (JSON, tables) stays clean.</summary>
    public static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");

    public static int Report(Exception ex)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
        return ExitCode;
    }
}
