using System.CommandLine;
using System.Globalization;
using CalRec.Bench;
using CalRec.Tensors.Threading;
using CalRec.Torch.Devices;
using CalRec.Torch.Training;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec bench gemm|train|tokenizer|generate|embed|evaluate|bm25|serve|score</c>.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Measure kernel, training and tokenizer throughput on this machine.");
        var json = new Option<bool>("--json") { Description = "One JSON object per result line.", Recursive = true };
        var threads = new Option<int?>("--threads") { Description = "Worker threads (default: all cores).", Recursive = true };
        cmd.Options.Add(json);
        cmd.Options.Add(threads);

        var sizes = new Option<int[]>("--sizes") { Description = "Square sizes.", DefaultValueFactory = _ => [256, 512, 1024, 2048], AllowMultipleArgumentsPerToken = true };
        var gemm = new Command("gemm", "SGEMM GFLOP/s of the managed kernel (and OpenBLAS when installed).") { sizes };
        CommandRunner.SetAction(gemm, (p, _) => Emit(p, json, threads, () => GemmBenchmark.Run(p.GetValue(sizes)!)));

        var config = new Option<string>("--config") { Description = "S (d=256, 4 layers, batch 32x128) or M (d=512, 8 layers, batch 16x128).", DefaultValueFactory = _ => "S" };
        var steps = new Option<int?>("--steps") { Description = "Timed steps (default as the PyTorch reference: S 5, M 4)." };
        var backend = new Option<ComputeBackend>("--backend") { Description = "managed (ours) or torchsharp (LibTorch on the CPU).", DefaultValueFactory = _ => ComputeBackend.Managed };
        var precision = new Option<string>("--precision") { Description = "fp32, or bf16 (TorchSharp's mixed-precision step, as training runs it).", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong("fp32", "bf16");
        var train = new Command("train", "Tokens/s of a GPT-2-style decoder training step (forward, backward, AdamW).") { config, steps, backend, precision };
        CommandRunner.SetAction(train, (p, _) => Emit(p, json, threads, () => [TrainBenchmark.Run(p.GetValue(config)!, p.GetValue(steps), p.GetValue(backend),
            p.GetValue(precision) == "bf16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32)]));

        var tokenizer = new Command("tokenizer", "Single-thread tokenizer encoding speed, and ours against Microsoft.ML.Tokenizers' BpeTokenizer on the same vocabulary.");
        CommandRunner.SetAction(tokenizer, (p, _) => Emit(p, json, threads, () => TokenizerBenchmark.Run()));

        var preset = new Option<FileInfo>("--preset") { Description = "Model preset config.", DefaultValueFactory = _ => new FileInfo(Path.Combine("models", "small.json")) };
        var generate = new Command("generate", "Greedy generation tokens/s with and without the KV cache.") { preset };
        CommandRunner.SetAction(generate, (p, _) => Emit(p, json, threads, () => GenerationBenchmark.Run(p.GetValue(preset)!.FullName)));

        var minilm = new Option<bool>("--minilm") { Description = "Instead: the pretrained MiniLM on ONNX Runtime and on our engine, side by side." };
        var embedData = new Option<string?>("--data") { Description = "With --minilm: dataset whose titles are embedded (default: ../shared/data/amazon-office, else a synthetic catalogue)." };
        var embedRounds = new Option<int>("--rounds") { Description = "With --minilm: interleaved rounds (the median is reported).", DefaultValueFactory = _ => 3 };
        var embed = new Command("embed", "Item-text embedding throughput (mean pooling).") { preset, minilm, embedData, embedRounds };
        CommandRunner.SetAction(embed, (p, _) => Emit(p, json, threads, () => p.GetValue(minilm)
            ? EmbeddingBenchmark.RunMiniLm(p.GetValue(embedData), p.GetValue(embedRounds))
            : [EmbeddingBenchmark.Run(p.GetValue(preset)!.FullName)]));

        var evaluate = new Command("evaluate", "Full-ranking evaluation users/s at amazon-beauty's size.");
        CommandRunner.SetAction(evaluate, (p, _) => Emit(p, json, threads, () => [EvaluationBenchmark.Run()]));

        var bm25Data = new Option<string?>("--data") { Description = "Dataset whose item texts are indexed (default: ../shared/data/amazon-beauty, else a synthetic catalogue)." };
        var queries = new Option<int>("--queries") { Description = "Queries per engine.", DefaultValueFactory = _ => 5000 };
        var bm25 = new Command("bm25", "BM25 queries/s of the project's index and of SQLite FTS5 on the same item texts, one thread each.") { bm25Data, queries };
        CommandRunner.SetAction(bm25, (p, _) => Emit(p, json, threads, () => Bm25Benchmark.Run(p.GetValue(bm25Data), p.GetValue(queries))));

        var serveModel = new Option<string?>("--model") { Description = "Model zip to serve (default: SASRec fitted for one epoch on --data)." };
        var serveData = new Option<string?>("--data") { Description = "Dataset for the default model and the histories (default: ../shared/data/amazon-beauty, else a synthetic catalogue)." };
        var requests = new Option<int>("--requests") { Description = "Timed requests per row.", DefaultValueFactory = _ => 2000 };
        var clients = new Option<int>("--clients") { Description = "Concurrent clients of the concurrent row.", DefaultValueFactory = _ => 4 };
        var serve = new Command("serve", "HTTP serving: requests/s and latency of POST /recommend (1 and N clients), users/s of POST /recommend/batch, and in-process calls.")
        {
            serveModel, serveData, requests, clients,
        };
        CommandRunner.SetAction(serve, (p, _) => Emit(p, json, threads, () => ServeBenchmark.Run(p.GetValue(serveModel), p.GetValue(serveData), p.GetValue(requests), p.GetValue(clients))));

        var scoreData = new Option<string?>("--data") { Description = "Dataset whose users are scored (default: ../shared/data/amazon-beauty, else a synthetic catalogue)." };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds of direct and IDataView scoring (the median is reported).", DefaultValueFactory = _ => 3 };
        var streamUsers = new Option<long>("--stream-users") { Description = "Instead: stream this many generated users through Transform into a Parquet file and report the peak working set." };
        var score = new Command("score", "Batch scoring users/s: the library's scorer vs ML.NET's Transform over an IDataView, PredictionEngine latency, and streaming memory.")
        {
            scoreData, rounds, streamUsers,
        };
        CommandRunner.SetAction(score, (p, _) => Emit(p, json, threads, () => ScoringBenchmark.Run(p.GetValue(scoreData), p.GetValue(rounds), p.GetValue(streamUsers))));

        cmd.Subcommands.Add(gemm);
        cmd.Subcommands.Add(score);
        cmd.Subcommands.Add(serve);
        cmd.Subcommands.Add(bm25);
        cmd.Subcommands.Add(embed);
        cmd.Subcommands.Add(evaluate);
        cmd.Subcommands.Add(generate);
        cmd.Subcommands.Add(train);
        cmd.Subcommands.Add(tokenizer);
        return cmd;
    }

    private static int Emit(ParseResult p, Option<bool> json, Option<int?> threads, Func<IEnumerable<BenchResult>> run)
    {
        if (p.GetValue(threads) is int t)
        {
            WorkerPool.SetSharedThreadCount(t);
        }

        bool asJson = p.GetValue(json);
        var results = new List<BenchResult>();
        foreach (BenchResult r in run())
        {
            if (asJson)
            {
                Console.WriteLine(r.ToJson());
            }

            results.Add(r);
        }

        if (!asJson)
        {
            // Only the columns some result fills, so the table stays readable in a narrow terminal.
            (string Header, Func<BenchResult, string> Cell)[] columns =
            [
                ("name", r => r.Name), ("config", r => r.Config), ("threads", r => Str(r.Threads)), ("GFLOP/s", r => Str(r.Gflops)),
                ("tokens/s", r => Str(r.TokensPerSecond)), ("texts/s", r => Str(r.TextsPerSecond)), ("users/s", r => Str(r.UsersPerSecond)), ("queries/s", r => Str(r.QueriesPerSecond)), ("MB/s", r => Str(r.MegabytesPerSecond)),
                ("p50 ms", r => Str(r.LatencyP50Ms)), ("p99 ms", r => Str(r.LatencyP99Ms)),
                ("managed B/step", r => Str(r.ManagedBytesPerStep)), ("peak MB", r => Str(r.PeakWorkingSetMb)), ("s/iter", r => Str(r.Seconds)),
            ];
            var used = columns.Where(c => results.Any(r => c.Cell(r) != "-")).ToList();
            var table = new Table();
            used.ForEach(c => table.AddColumn(c.Header));
            results.ForEach(r => table.AddRow(used.Select(c => Markup.Escape(c.Cell(r))).ToArray()));
            AnsiConsole.Write(table);
        }

        return 0;
    }

    private static string Str<T>(T? v) => v is null ? "-" : Convert.ToString(v, CultureInfo.InvariantCulture)!;
}
