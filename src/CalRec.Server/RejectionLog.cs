using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CalRec.Server;

/// <summary>
/// One log line per rejected request at most, and at most one line per second: a misbehaving client cannot flood the
/// log. Lines suppressed in between are counted in the next line.
/// </summary>
internal sealed class RejectionLog(ILoggerFactory? loggers)
{
    private readonly ILogger? _logger = loggers?.CreateLogger("CalRec.Server.Rejected");
    private readonly object _gate = new();
    private long _lastTicks = -1;
    private int _suppressed;

    /// <summary>The minimum time between two lines.</summary>
    internal static TimeSpan Interval { get; } = TimeSpan.FromSeconds(1);

    public void Report(HttpContext http, int status, string reason)
    {
        if (_logger is null || !_logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        int suppressed;
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (_lastTicks >= 0 && now - _lastTicks < (long)Interval.TotalMilliseconds)
            {
                _suppressed++;
                return;
            }

            _lastTicks = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        string reasonLine = reason.ReplaceLineEndings(" ");
        string more = suppressed > 0 ? $" ({suppressed} more rejected since the last line)" : "";
        _logger.LogWarning("rejected {Method} {Path} from {Client}: {Status} {Reason}{More}", http.Request.Method, http.Request.Path.Value, http.Connection.RemoteIpAddress, status, reasonLine, more);
    }
}
