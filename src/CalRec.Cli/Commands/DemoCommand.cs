using System.CommandLine;
using System.Globalization;
using CalRec.Data.Synthetic;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Text.Tokenization;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec demo</c>: the end-to-end job on the embedded synthetic catalogue. Generates the catalogue and user histories,
/// trains a BPE tokenizer on their text, pretrains a small Llama-style LM on item texts and serialized histories (loss per
/// step, validation perplexity), saves the model folder, and prints a greedy continuation.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Model folder to write.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("runs", "demo")) };
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => 300 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for data, weights and batch order.", DefaultValueFactory = _ => 42UL };
        var cmd = new Command("demo", "Run the main job end to end on the embedded synthetic catalogue.") { output, steps, seed };
        cmd.SetAction((p, ct) => Task.Run(() => Run(p.GetValue(output)!, p.GetValue(steps), p.GetValue(seed), ct), CancellationToken.None));
        return cmd;
    }

    internal static int Run(DirectoryInfo outDir, int steps, ulong seed, CancellationToken ct)
    {
        AnsiConsole.MarkupLine("[bold]1/4[/] generating the synthetic catalogue");
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = seed });
        var itemText = data.Items.ToDictionary(i => i.Id, i => i.ToText());
        var docs = new List<string>(data.Items.Select(i => i.ToText()));
        docs.AddRange(data.Users.Select(u => string.Join(" <|item|> ", u.Items.Select(id => itemText[id]))));
        AnsiConsole.MarkupLineInterpolated($"    {data.Items.Count} items in 3 domains, {data.Users.Count} users, {docs.Count} documents");

        AnsiConsole.MarkupLine("[bold]2/4[/] training the byte-level BPE tokenizer");
        BpeTokenizer tok = BpeTokenizer.Train(docs, new BpeTrainerOptions { VocabularySize = 2048, SpecialTokens = ["<|endoftext|>", "<|item|>", "<|pad|>"] });
        int eos = tok.TokenToId("<|endoftext|>")!.Value;
        var gen = new Generator(seed);
        var order = Enumerable.Range(0, docs.Count).ToArray();
        gen.Shuffle<int>(order);
        int valCount = Math.Max(20, docs.Count / 20);
        var encoded = order.Select(i => tok.EncodeToIds(docs[i])).ToList();
        const int seq = 128;
        var valData = new PackedTokenDataset(encoded.Take(valCount), eos, seq);
        var trainData = new PackedTokenDataset(encoded.Skip(valCount), eos, seq);
        AnsiConsole.MarkupLineInterpolated($"    vocabulary {tok.VocabularySize}; {trainData.TokenCount:N0} training tokens, {valData.TokenCount:N0} validation tokens");

        var config = new DecoderConfig
        {
            VocabSize = tok.VocabularySize,
            HiddenSize = 128,
            NumLayers = 4,
            NumHeads = 4,
            NumKeyValueHeads = 2,
            IntermediateSize = 384,
            MaxPositions = 512,
            TieWordEmbeddings = true,
            EosTokenId = eos,
        };
        var model = new DecoderLM(config, seed);
        var trainer = new CausalLmTrainer(model, new CausalLmTrainerOptions { Steps = steps, BatchSize = 16, LearningRate = 3e-3f, WarmupSteps = Math.Min(30, steps / 10), EvalEvery = 50, Seed = seed });
        AnsiConsole.MarkupLineInterpolated($"[bold]3/4[/] pretraining a Llama-style decoder ({model.parameter_count():N0} parameters) for {steps} steps of 16x{seq} tokens");
        float initialVal = trainer.Evaluate(valData);
        AnsiConsole.MarkupLineInterpolated($"    step    0  validation loss {initialVal:F3}  perplexity {Math.Exp(initialVal):F1}");
        LmStepReport? last = null;
        float? lastVal = null;
        foreach (LmStepReport r in trainer.Train(trainData, valData, ct))
        {
            last = r;
            string val = r.ValidationLoss is float v ? $"  validation loss {v:F3}  perplexity {Math.Exp(v):F1}" : string.Empty;
            lastVal = r.ValidationLoss ?? lastVal;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    step {r.Step,4}  loss {r.Loss:F3}  lr {r.LearningRate:E2}  {r.TokensPerSecond:F0} tok/s{val}"));
        }

        if (ct.IsCancellationRequested)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]: saving the model trained so far");
        }

        HuggingFaceCheckpoint.Save(model, tok, outDir.FullName);
        AnsiConsole.MarkupLineInterpolated($"[bold]4/4[/] saved [green]{outDir.FullName}[/] (config.json, model.safetensors, tokenizer.json)");
        if (last is not null && lastVal is float final)
        {
            AnsiConsole.MarkupLineInterpolated($"    validation perplexity {Math.Exp(initialVal):F1} -> {Math.Exp(final):F1}");
        }

        string prompt = itemText[data.Users[0].Items[0]] + " <|item|> title:";
        AnsiConsole.MarkupLineInterpolated($"    greedy continuation of [grey]{prompt}[/]:");
        AnsiConsole.MarkupLineInterpolated($"    [cyan]{GreedyContinue(model, tok, prompt, 24)}[/]");
        return ct.IsCancellationRequested ? 130 : 0;
    }

    private static string GreedyContinue(DecoderLM model, BpeTokenizer tok, string prompt, int maxNew)
    {
        model.eval();
        var ids = tok.EncodeToIds(prompt).ToList();
        int start = ids.Count;
        using (Tape.no_grad())
        {
            for (int i = 0; i < maxNew; i++)
            {
                using TensorScope scope = TensorScope.Begin();
                int[] input = [.. ids];
                Tensor logits = model.Logits(model.Hidden(input, 1, input.Length));
                ReadOnlySpan<float> last = logits.Data.Slice((input.Length - 1) * model.Config.VocabSize, model.Config.VocabSize);
                int next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(last);
                if (next == model.Config.EosTokenId || tok.IdToToken(next) == "<|item|>")
                {
                    break;
                }

                ids.Add(next);
            }
        }

        return tok.Decode(ids.Skip(start));
    }
}
