using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.MLNet;
using CalRec.Recommenders;
using CalRec.Recommenders.SasRec;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace CalRec.Server.Tests;

[TestFixture]
public class RecommendationServerTests
{
    private RecommenderModel _model = null!;
    private SequentialRecommendationTransformer _recommender = null!;
    private InteractionDataset _data = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 60 }).ToDataset();
        var ctx = new RecContext(seed: 2);
        _model = ctx.Trainers.SasRec(new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, BatchSize = 32, MaxEpochs = 3, Seed = 2 }).Fit(_data);
        _recommender = new Microsoft.ML.MLContext().SequentialRecommendation().CreateTransformer(_model);
        _app = RecommendationServer.Create(_recommender, ["http://127.0.0.1:0"], new RecommendationServerOptions { MaxK = 50, MaxBatchUsers = 100 }, LogLevel.None);
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

    private string[] History(int user, int length = 4) => _data.Sequences[user].Take(length).Select(i => _data.Items[i].Id).ToArray();

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static (string Id, float Score)[] Items(JsonElement items) =>
        items.EnumerateArray().Select(e => (e.GetProperty("id").GetString()!, e.GetProperty("score").GetSingle())).ToArray();

    private static (string Id, float Score)[] Expected(IReadOnlyList<ScoredItem> items) => items.Select(i => (i.ItemId, i.Score)).ToArray();

    private Task<HttpResponseMessage> PostRaw(string path, string body, string mediaType = "application/json") =>
        _http.PostAsync(path, new StringContent(body, Encoding.UTF8, mediaType));

    [Test]
    public async Task HealthDescribesTheServedModel()
    {
        JsonElement health = await JsonOf(await _http.GetAsync("/health"));
        Assert.That(health.GetProperty("status").GetString(), Is.EqualTo("ok"));
        Assert.That(health.GetProperty("kind").GetString(), Is.EqualTo("sasrec"));
        Assert.That(health.GetProperty("items").GetInt32(), Is.EqualTo(_data.ItemCount));
    }

    [Test]
    public async Task PostAndGetReturnWhatTheInProcessRecommenderReturns()
    {
        Recommender local = new RecContext().Model.CreateRecommender(_model);
        string[] history = History(7);
        HttpResponseMessage post = await _http.PostAsJsonAsync("/recommend", new { history, k = 5 });
        Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Items((await JsonOf(post)).GetProperty("items")), Is.EqualTo(Expected(local.Recommend(history, 5))));

        HttpResponseMessage get = await _http.GetAsync($"/recommend?history={Uri.EscapeDataString(string.Join(',', history))}&k=5&include_seen=true");
        Assert.That(Items((await JsonOf(get)).GetProperty("items")), Is.EqualTo(Expected(local.Recommend(history, 5, excludeSeen: false))));

        (string Id, float Score)[] defaultK = Items((await JsonOf(await _http.PostAsJsonAsync("/recommend", new { history }))).GetProperty("items"));
        Assert.That(defaultK, Has.Length.EqualTo(10), "the server's default k");
        Assert.That(defaultK.Select(i => i.Id), Has.None.AnyOf(history), "seen items are left out unless include_seen");
    }

    [Test]
    public async Task BatchMatchesSingleRequestsInRequestOrder()
    {
        Recommender local = new RecContext().Model.CreateRecommender(_model);
        var users = Enumerable.Range(0, 40).Select(u => new { user = $"u{u}", history = History(u, 2 + (u % 5)) }).ToArray();
        HttpResponseMessage response = await _http.PostAsJsonAsync("/recommend/batch", new { users, k = 3 });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        JsonElement[] results = (await JsonOf(response)).GetProperty("results").EnumerateArray().ToArray();
        Assert.That(results.Select(r => r.GetProperty("user").GetString()), Is.EqualTo(users.Select(u => u.user)));
        for (int u = 0; u < users.Length; u++)
        {
            (string Id, float Score)[] got = Items(results[u].GetProperty("items"));
            (string Id, float Score)[] want = Expected(local.Recommend(users[u].history, 3));
            Assert.That(got.Select(g => g.Id), Is.EqualTo(want.Select(w => w.Id)), $"user {u}");
            Assert.That(got.Select(g => g.Score), Is.EqualTo(want.Select(w => w.Score)).Within(1e-4f), $"user {u}: batched scoring sums in another order");
        }
    }

    [Test]
    public async Task ConcurrentRequestsGetTheSameAnswersAsSequentialOnes()
    {
        string[][] histories = Enumerable.Range(0, 24).Select(u => History(u, 3)).ToArray();
        var sequential = new List<string>();
        foreach (string[] h in histories)
        {
            sequential.Add(await (await _http.PostAsJsonAsync("/recommend", new { history = h, k = 8 })).Content.ReadAsStringAsync());
        }

        string[] concurrent = await Task.WhenAll(histories.Select(async h =>
            await (await _http.PostAsJsonAsync("/recommend", new { history = h, k = 8 })).Content.ReadAsStringAsync()));
        Assert.That(concurrent, Is.EqualTo(sequential));
    }

    [TestCase("""{"history": ["nope"]}""", "history[0]", "item 'nope' (position 1) is not in the model's catalogue")]
    [TestCase("""{"history": []}""", "history", "give at least one item id")]
    [TestCase("""{"history": ["ITEM0", null]}""", "history[1]", "position 2 is null")]
    [TestCase("""{"k": 3}""", "history", "give at least one item id")]
    [TestCase("""{"history": ["ITEM0"], "k": 0}""", "k", "0 is not a positive number of items")]
    [TestCase("""{"history": ["ITEM0"], "k": 51}""", "k", "more than this server's limit of 50")]
    [TestCase("""{"histroy": ["ITEM0"]}""", "$.histroy", "could not be mapped")]
    [TestCase("""{"history": ["ITEM0"], "k": "ten"}""", "$.k", "could not be converted to a whole number")]
    [TestCase("""{"history": ["ITEM0"], "include_seen": "yes"}""", "$.include_seen", "could not be converted to true or false")]
    [TestCase("""{"history": "ITEM0"}""", "$.history", "could not be converted to an array of strings")]
    [TestCase("{\n  \"history\": [\"ITEM0\",\n", "$.history[1]", "line 3, byte 1")]
    [TestCase("null", "$", "JSON null")]
    public async Task BadSingleRequestsAreRefusedNamingTheField(string body, string field, string message)
    {
        body = body.Replace("ITEM0", _data.Items[0].Id, StringComparison.Ordinal);
        HttpResponseMessage response = await PostRaw("/recommend", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        JsonElement problem = await JsonOf(response);
        Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo(field));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain(message).And.Not.Contain("System."));
    }

    [TestCase("k=abc", "k", "'abc' is not a whole number")]
    [TestCase("k=0", "k", "0 is not a positive number of items")]
    [TestCase("include_seen=maybe", "include_seen", "'maybe' is not true or false")]
    [TestCase("history=", "history", "give at least one item id")]
    public async Task BadQueryValuesAreRefusedNamingTheParameter(string query, string field, string message)
    {
        string history = query.StartsWith("history=", StringComparison.Ordinal) ? "" : $"history={Uri.EscapeDataString(_data.Items[0].Id)}&";
        HttpResponseMessage response = await _http.GetAsync($"/recommend?{history}{query}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        JsonElement problem = await JsonOf(response);
        Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo(field));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain(message));
    }

    [Test]
    public async Task BadBatchesNameTheUserAndPosition()
    {
        string good = _data.Items[0].Id;
        HttpResponseMessage response = await _http.PostAsJsonAsync("/recommend/batch", new
        {
            users = new object[] { new { user = "a", history = new[] { good } }, new { user = "b", history = new[] { good, "missing" } } },
        });
        JsonElement problem = await JsonOf(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo("users[1].history[1]"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("user 'b'").And.Contain("'missing' (position 2)"));

        var tooMany = Enumerable.Range(0, 101).Select(_ => new { user = "x", history = new[] { good } }).ToArray();
        JsonElement limit = await JsonOf(await _http.PostAsJsonAsync("/recommend/batch", new { users = tooMany }));
        Assert.That(limit.GetProperty("detail").GetString(), Does.Contain("101 users").And.Contain("at most 100"));

        JsonElement empty = await JsonOf(await _http.PostAsJsonAsync("/recommend/batch", new { users = Array.Empty<object>() }));
        Assert.That(empty.GetProperty("field").GetString(), Is.EqualTo("users"));
    }

    [Test]
    public async Task NonJsonBodiesAreRefusedWithUnsupportedMediaType()
    {
        HttpResponseMessage response = await PostRaw("/recommend", "history=a", "application/x-www-form-urlencoded");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That((await JsonOf(response)).GetProperty("detail").GetString(), Does.Contain("application/json"));
    }

    [Test]
    public void CreatingWithoutAnAddressIsAClearError()
    {
        var ex = Assert.Throws<ArgumentException>(() => RecommendationServer.Create(_recommender, []));
        Assert.That(ex!.Message, Does.Contain("at least one URL"));
        ex = Assert.Throws<ArgumentException>(() => RecommendationServer.Create(_recommender, ["http://127.0.0.1:0", "notaurl"]));
        Assert.That(ex!.Message, Does.Contain("'notaurl' is not an address to listen on"));
        Assert.Throws<ArgumentException>(() => RecommendationServer.Create(_recommender, ["ftp://127.0.0.1:21"]));
        Assert.DoesNotThrow(() => RecommendationServer.Create(_recommender, ["http://*:0"], minimumLogLevel: LogLevel.None).DisposeAsync().AsTask().Wait());
    }
}
