// Serve a recommender over HTTP from inside your own process: train (or load) a model, map the endpoints with
// RecommendationServer, and call them as a client would. `calrec serve --model MODEL.zip` runs the same server.
// Usage: dotnet run --project samples/ServeOverHttp [-- MODEL.zip]   (default: SASRec trained on a synthetic catalogue)
using System.Net.Http.Json;
using CalRec.Data.Synthetic;
using CalRec.Recommenders;
using CalRec.Recommenders.SasRec;
using CalRec.Server;
using Microsoft.AspNetCore.Builder;

var ctx = new RecContext(seed: 42);
RecommenderModel model = args.Length > 0
    ? ctx.Model.Load(args[0])
    : ctx.Trainers.SasRec(hidden: 32, maxLength: 20, dropout: 0.2f, maxEpochs: 10).Fit(SyntheticCatalog.Generate(new SyntheticCatalogOptions { UsersPerDomain = 200 }).ToDataset());

await using WebApplication app = RecommendationServer.Create(model, ["http://127.0.0.1:0"]);
await app.StartAsync();
string address = app.Urls.First();
Console.WriteLine($"serving {model.Kind} ({model.ItemCount:N0} items) on {address}");

using var http = new HttpClient { BaseAddress = new Uri(address) };
Console.WriteLine(await http.GetStringAsync("/health"));
string[] history = model.Catalog.Take(3).Select(item => item.Id).ToArray();
HttpResponseMessage response = await http.PostAsJsonAsync("/recommend", new { history, k = 5 });
Console.WriteLine($"POST /recommend {{history: [{string.Join(", ", history)}], k: 5}} -> {(int)response.StatusCode}");
Console.WriteLine(await response.Content.ReadAsStringAsync());
response = await http.PostAsJsonAsync("/recommend", new { history = new[] { "no-such-item" } });
Console.WriteLine($"an unknown item -> {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
await app.StopAsync();
