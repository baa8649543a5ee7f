using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CalRec.Cli.Tests;

/// <summary>
/// Debian's Chromium, headless, driven over the DevTools protocol: open a page, collect console errors, uncaught
/// exceptions and network requests, evaluate script, take a screenshot. No package needed beyond the browser.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly List<JsonObject> _events = [];
    private int _id;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>The browser's path, or null when it is not installed.</summary>
    public static string? Find() => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    /// <summary>Console errors, uncaught exceptions and error log entries seen so far.</summary>
    public IEnumerable<string> Errors => _events.Select(e => (string)e["method"]! switch
    {
        "Runtime.consoleAPICalled" when (string?)e["params"]!["type"] is "error" or "assert" => "console: " + e["params"]!["args"]!.ToJsonString(),
        "Runtime.exceptionThrown" => "exception: " + e["params"]!["exceptionDetails"]!.ToJsonString(),
        "Log.entryAdded" when (string?)e["params"]!["entry"]!["level"] == "error" => "log: " + e["params"]!["entry"]!["text"],
        _ => null,
    }).OfType<string>();

    /// <summary>The URLs the page requested.</summary>
    public IEnumerable<string> Requests => _events.Where(e => (string?)e["method"] == "Network.requestWillBeSent").Select(e => (string)e["params"]!["request"]!["url"]!);

    public static async Task<HeadlessChromium> StartAsync(string executable)
    {
        string profile = Directory.CreateTempSubdirectory("calrec-chromium-").FullName;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={profile}", "about:blank"])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var browser = new HeadlessChromium(process, profile);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? endpoint = null;
        while (endpoint is null)
        {
            string? line = await process.StandardError.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("Chromium exited before opening its DevTools port.");
            const string Marker = "DevTools listening on ";
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                endpoint = line[Marker.Length..].Trim();
            }
        }

        _ = DrainAsync(process.StandardError);
        var uri = new Uri(endpoint);
        using var http = new HttpClient();
        JsonArray targets = (await http.GetFromJsonAsync<JsonArray>($"http://{uri.Host}:{uri.Port}/json/list", timeout.Token))!;
        string page = (string)targets.First(t => (string?)t!["type"] == "page")!["webSocketDebuggerUrl"]!;
        await browser._socket.ConnectAsync(new Uri(page), timeout.Token);
        foreach (string domain in (string[])["Runtime.enable", "Log.enable", "Page.enable", "Network.enable"])
        {
            await browser.SendAsync(domain, new JsonObject());
        }

        return browser;
    }

    /// <summary>Opens <paramref name="url"/> and waits for its load event.</summary>
    public async Task NavigateAsync(string url)
    {
        await SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = 1600, ["height"] = 1000, ["deviceScaleFactor"] = 1, ["mobile"] = false });
        int before = _events.Count;
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        while (!_events.Skip(before).Any(e => (string?)e["method"] == "Page.loadEventFired"))
        {
            await ReceiveAsync();
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        JsonObject result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        if (result["exceptionDetails"] is JsonNode error)
        {
            throw new InvalidOperationException("script failed: " + error.ToJsonString());
        }

        return result["result"]!["value"];
    }

    /// <summary>A PNG of the whole page.</summary>
    public async Task<byte[]> ScreenshotAsync()
    {
        JsonObject metrics = await SendAsync("Page.getLayoutMetrics", new JsonObject());
        JsonNode size = metrics["cssContentSize"] ?? metrics["contentSize"]!;
        JsonObject shot = await SendAsync("Page.captureScreenshot", new JsonObject
        {
            ["format"] = "png",
            ["captureBeyondViewport"] = true,
            ["clip"] = new JsonObject { ["x"] = 0, ["y"] = 0, ["width"] = (double)size["width"]!, ["height"] = (double)size["height"]!, ["scale"] = 1 },
        });
        return Convert.FromBase64String((string)shot["data"]!);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                await SendAsync("Browser.close", new JsonObject());
            }
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException)
        {
            // The browser closes the socket as it exits.
        }

        _socket.Dispose();
        if (!_process.WaitForExit(10_000))
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        Directory.Delete(_profile, recursive: true);
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is not null)
        {
        }
    }

    private async Task<JsonObject> SendAsync(string method, JsonObject parameters)
    {
        int id = ++_id;
        byte[] message = Encoding.UTF8.GetBytes(new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters }.ToJsonString());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        while (true)
        {
            JsonObject reply = await ReceiveAsync();
            if ((int?)reply["id"] == id)
            {
                return reply["error"] is JsonNode error
                    ? throw new InvalidOperationException($"{method}: {error.ToJsonString()}")
                    : (JsonObject)reply["result"]!;
            }
        }
    }

    private async Task<JsonObject> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        WebSocketReceiveResult part;
        do
        {
            part = await _socket.ReceiveAsync(buffer, timeout.Token);
            message.Write(buffer, 0, part.Count);
        }
        while (!part.EndOfMessage);

        var o = (JsonObject)JsonNode.Parse(message.ToArray())!;
        if (o["method"] is not null)
        {
            _events.Add(o);
        }

        return o;
    }
}
