// Batch-score a SQLite table of user histories with a saved model and write the recommendations back into the same
// database, streaming (memory stays flat however many users the table holds). The histories are read through ML.NET's
// DatabaseLoader (with a guard against a SELECT whose columns come in another order) and tokenized by ML.NET.
// Usage: dotnet run --project samples/BatchScoreSqlite [-- MODEL.zip DATABASE.db]
//        (default: SASRec trained here on the generated demo catalogue, and a database made from its histories)
using CalRec.MLNet;
using CalRec.Recommenders.SasRec;
using Microsoft.Data.Sqlite;
using Microsoft.ML;

var mlContext = new MLContext(seed: 42);
string folder = Directory.CreateTempSubdirectory("calrec-batch-sample-").FullName;
string modelPath = args.Length > 0 ? args[0] : Path.Combine(folder, "model.zip");
string database = args.Length > 1 ? args[1] : Path.Combine(folder, "shop.db");

if (args.Length == 0)
{
    InteractionTables demo = mlContext.SequentialRecommendation().Data.GenerateDemo(usersPerDomain: 300);
    ITransformer trained = mlContext.SequentialRecommendation().Trainers
        .SasRec(new SasRecEstimatorOptions { Items = demo.Items, Trainer = new SasRecTrainer.Options { Hidden = 32, MaxLength = 20, MaxEpochs = 10, Seed = 42 } })
        .Fit(demo.Interactions);
    IDataView histories = mlContext.SequentialRecommendation().Data.Histories(demo.Interactions);
    mlContext.SequentialRecommendation().SaveModel(trained, histories.Schema, modelPath);
    // The application's own table: one row per customer, the history as space-separated item ids.
    mlContext.SequentialRecommendation().Data.SaveTable(histories, database, table: "customer_histories");
}

ITransformer model = mlContext.SequentialRecommendation().LoadModel(modelPath, out _);
IDataView input = mlContext.SequentialRecommendation().Data.LoadHistories(database, "SELECT UserId, History FROM customer_histories");
long rows = mlContext.SequentialRecommendation().Data.SaveTable(model.Transform(input), database, table: "next_items",
    progress: new Progress<long>(n => Console.WriteLine($"  {n:N0} users scored")));
Console.WriteLine($"wrote {rows:N0} rows to table next_items of {database}");

using var connection = new SqliteConnection($"Data Source={database}");
connection.Open();
using SqliteCommand query = connection.CreateCommand();
query.CommandText = "SELECT UserId, History, PredictedItemIds FROM next_items LIMIT 3";
using SqliteDataReader reader = query.ExecuteReader();
while (reader.Read())
{
    Console.WriteLine($"{reader.GetString(0)}: after ...{string.Join(' ', reader.GetString(1).Split(' ').TakeLast(3))} -> {reader.GetString(2)}");
}
