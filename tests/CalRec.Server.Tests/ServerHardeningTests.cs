using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.MLNet;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

namespace CalRec.Server.Tests;

/// <summary>What a misbehaving client gets: problem bodies for every error status, strict JSON, a quiet log.</summary>
[TestFixture]
public class ServerHardeningTests
{
    private readonly CollectingLogger _log = new();
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private string _item = "";

    [OneTimeSetUp]
    public async Task StartServer()
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 30 }).ToDataset();
        var ml = new MLContext(seed: 1);
        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([data]);
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { Items = tables.Items }).Fit(tables.Interactions);
        _item = data.Items[0].Id;
        _app = RecommendationServer.Create(model, ["http://127.0.0.1:0"], new RecommendationServerOptions { MaxRequestBodyBytes = 2_000 },
            configureLogging: logging => logging.AddProvider(_log));
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.Single()) };
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.That(response.StatusCode, Is.EqualTo(status));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        JsonElement body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(body.GetProperty("status").GetInt32(), Is.EqualTo((int)status));
        return body;
    }

    [Test]
    public async Task HeadHealthAnswersWithoutABody()
    {
        using HttpResponseMessage head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/health"));
        Assert.That(head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await head.Content.ReadAsByteArrayAsync(), Is.Empty);
    }

    [Test]
    public async Task UnknownPathsAndWrongMethodsGetProblemBodies()
    {
        await Problem(await _http.GetAsync("/recommendations"), HttpStatusCode.NotFound);
        await Problem(await _http.PutAsync("/recommend", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.MethodNotAllowed);
        await Problem(await _http.PostAsync("/recommend", new StringContent("{}", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType);
    }

    [Test]
    public async Task NumbersAsStringsAndDuplicateKeysAreRefused()
    {
        JsonElement k = await Problem(await Post($$"""{"history": ["{{_item}}"], "k": "5"}"""), HttpStatusCode.BadRequest);
        Assert.That(k.GetProperty("field").GetString(), Is.EqualTo("$.k"));
        Assert.That(k.GetProperty("detail").GetString(), Does.Contain("a whole number").And.Not.Contains("System."));
        JsonElement twice = await Problem(await Post($$"""{"history": ["{{_item}}"], "history": ["{{_item}}"]}"""), HttpStatusCode.BadRequest);
        Assert.That(twice.GetProperty("detail").GetString(), Does.Contain("history").IgnoreCase);
        using HttpResponseMessage ok = await Post($$"""{"history": ["{{_item}}"], "k": 5}""");
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    [NonParallelizable]
    public async Task OversizedChunkedBodiesGet413AndTheLogOneLineASecondWithoutStackTraces()
    {
        await Task.Delay(RejectionLog.Interval);
        _log.Lines.Clear();
        byte[] big = Encoding.UTF8.GetBytes("{\"history\": [" + string.Join(", ", Enumerable.Repeat($"\"{_item}\"", 500)) + "]}");
        for (int i = 0; i < 30; i++)
        {
            // No Content-Length: the body is sent chunked and the limit trips while the endpoint reads it.
            var content = new StreamContent(new MemoryStream(big));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/recommend") { Content = content };
            request.Headers.TransferEncodingChunked = true;
            JsonElement problem = await Problem(await _http.SendAsync(request), HttpStatusCode.RequestEntityTooLarge);
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("larger than this server accepts (2,000 bytes)"));
        }

        string[] burst = [.. _log.Lines];
        Assert.That(burst, Has.Length.InRange(1, 2), string.Join("\n", burst));
        Assert.That(burst[0], Does.Contain("rejected POST /recommend").And.Contain("413"));
        Assert.That(_log.Lines.Any(l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal)), Is.False, "no stack traces");

        await Task.Delay(RejectionLog.Interval);
        await _http.PostAsync("/recommend", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.That(_log.Lines.Last(), Does.Contain("more rejected since the last line").And.Contain("400"));
    }

    private Task<HttpResponseMessage> Post(string json) => _http.PostAsync("/recommend", new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Keeps every formatted log line (with the exception, if any) in memory.</summary>
    private sealed class CollectingLogger : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception) + (exception is null ? "" : "\n" + exception));

        public void Dispose()
        {
        }
    }
}
