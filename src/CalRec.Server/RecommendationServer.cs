using CalRec.MLNet;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CalRec.Server;

/// <summary>A ready-to-run web application serving one fitted recommender (what <c>calrec serve</c> runs).</summary>
public static class RecommendationServer
{
    /// <summary>
    /// Builds a Kestrel application listening on <paramref name="urls"/> (for example <c>http://127.0.0.1:5080</c>; port
    /// 0 picks a free port, readable from <c>app.Urls</c> after start) with <see cref="RecommendationEndpoints"/> mapped.
    /// Framework logging below <paramref name="minimumLogLevel"/> is dropped.
    /// </summary>
    /// <param name="model">The recommender to serve.</param>
    /// <param name="urls">Addresses to listen on.</param>
    /// <param name="options">Limits (k, batch size, request body size).</param>
    /// <param name="minimumLogLevel">Framework logging below this level is dropped.</param>
    /// <param name="configureLogging">Replaces the console logger (for example to collect the log in a test).</param>
    public static WebApplication Create(SequentialRecommendationTransformer model, IEnumerable<string> urls, RecommendationServerOptions? options = null,
        LogLevel minimumLogLevel = LogLevel.Warning, Action<ILoggingBuilder>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(urls);
        string[] bind = urls.ToArray();
        if (bind.Length == 0)
        {
            throw new ArgumentException("Give at least one URL to listen on, for example http://127.0.0.1:5080.", nameof(urls));
        }

        foreach (string url in bind)
        {
            // Kestrel's wildcard hosts (http://*:5080, http://+:5080) are not valid System.Uri hosts.
            string probe = url.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
            if (!Uri.TryCreate(probe, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"'{url}' is not an address to listen on; give one like http://127.0.0.1:5080.", nameof(urls));
            }
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(bind);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLogLevel);
        // A failed start (a busy port) reaches the caller as the exception from StartAsync; the host's own log of it
        // would repeat it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // A client that sends a bad body is answered by our endpoints; Kestrel's own debug lines about it stay off.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else if (minimumLogLevel != LogLevel.None)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        }

        options ??= new RecommendationServerOptions();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
        builder.Services.AddProblemDetails();
        WebApplication app = builder.Build();
        // 404 (no such path), 405 (wrong method) and other bodiless errors get RFC 7807 problem bodies like the 400s.
        app.UseStatusCodePages();
        app.MapRecommendations(model, options);
        return app;
    }
}
