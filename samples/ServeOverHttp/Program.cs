// An ASP.NET Core minimal API serving a sequential recommender with a pool of PredictionEngines, as an application
// would write it: load a saved model (or train one on the generated demo catalogue), create a
// RecommendationEnginePool once, predict per request. `calrec serve --model MODEL.zip` runs a fuller server.
// Usage: dotnet run --project samples/ServeOverHttp [-- MODEL.zip]
using System.Net.Http.Json;
using CalRec.Data.Synthetic;
using CalRec.MLNet;
using CalRec.Recommenders.SasRec;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.ML;

var mlContext = new MLContext(seed: 42);
ITransformer model;
if (args.Length > 0)
{
    model = mlContext.SequentialRecommendation().LoadModel(args[0], out _);
}
else
{
    var catalog = SyntheticCatalog.Generate(new SyntheticCatalogOptions { UsersPerDomain = 200 });
    IDataView interactions = mlContext.Data.LoadFromEnumerable(catalog.Users.SelectMany(u => u.Items.Select((item, t) => new Interaction { UserId = u.Id, ItemId = item, Timestamp = t })));
    model = mlContext.SequentialRecommendation().Trainers
        .SasRec(new SasRecEstimatorOptions { Trainer = new SasRecTrainer.Options { Hidden = 32, MaxLength = 20, Dropout = 0.2f, MaxEpochs = 10 }, TopK = 5 })
        .Fit(interactions);
}

var pool = new RecommendationEnginePool<ModelInput, ModelOutput>(mlContext, model);
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.SetMinimumLevel(LogLevel.Warning);
await using WebApplication app = builder.Build();
app.MapPost("/predict", (ModelInput input) => input.History is { Length: > 0 } ? Results.Ok(pool.Predict(input)) : Results.BadRequest("give a history"));
await app.StartAsync();
string address = app.Urls.First();
Console.WriteLine($"serving on {address}");

using var http = new HttpClient { BaseAddress = new Uri(address) };
string[] history = SequentialRecommendationCatalog.FindRecommender(model)!.Model.Catalog.Take(3).Select(item => item.Id).ToArray();
var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => http.PostAsJsonAsync("/predict", new ModelInput { UserId = "u1", History = history })));
ModelOutput? first = await answers[0].Content.ReadFromJsonAsync<ModelOutput>();
Console.WriteLine($"8 concurrent POST /predict -> {string.Join(", ", answers.Select(a => (int)a.StatusCode).Distinct())}; top items for [{string.Join(", ", history)}]: {string.Join(", ", first!.PredictedItemIds)}");
await app.StopAsync();

/// <summary>One interaction of the training table.</summary>
internal sealed class Interaction
{
    public string UserId { get; set; } = "";

    public string ItemId { get; set; } = "";

    public long Timestamp { get; set; }
}

/// <summary>The request: a user's history, oldest first.</summary>
internal sealed class ModelInput
{
    public string UserId { get; set; } = "";

    public string[] History { get; set; } = [];
}

/// <summary>The response: the recommended items and their scores.</summary>
internal sealed class ModelOutput
{
    public string[] PredictedItemIds { get; set; } = [];

    public float[] Scores { get; set; } = [];
}
