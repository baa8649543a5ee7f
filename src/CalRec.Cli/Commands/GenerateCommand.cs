using System.CommandLine;
using System.Text.Json;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Models.Generation;
using CalRec.Text.Tokenization;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec generate</c>: continue a prompt with any model folder in Hugging Face layout.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var modelDir = new Option<DirectoryInfo>("--model") { Description = "Model folder (config.json, model.safetensors, tokenizer.json).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding (the default)." };
        var beams = new Option<int?>("--beams") { Description = "Beam search with K beams; returns K sequences." };
        var sample = new Option<bool>("--sample") { Description = "Seeded sampling." };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature.", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass.", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most probable tokens (0: all)." };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed." };
        var count = new Option<int>("--num-return-sequences") { Description = "Sequences to return (sampling, beams).", DefaultValueFactory = _ => 1 };
        var stop = new Option<string[]>("--stop") { Description = "Stop sequences.", AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "One JSON object per sequence: token_ids, text, logprob." };
        var cmd = new Command("generate", "Generate a continuation of a prompt.") { modelDir, prompt, maxNew, greedy, beams, sample, temperature, topP, topK, seed, count, stop, json };
        CommandRunner.SetAction(cmd, (p, _) =>
        {
            (DecoderLM model, ByteLevelBpeTokenizer tok) = HuggingFaceCheckpoint.LoadWithTokenizer(p.GetValue(modelDir)!.FullName);

            int? k = p.GetValue(beams);
            if (p.GetValue(sample) && k is not null)
            {
                AnsiConsole.MarkupLine("[red]error:[/] choose one of --greedy, --beams K, --sample.");
                return 2;
            }

            var options = new GenerationOptions
            {
                Strategy = k is not null ? DecodingStrategy.BeamSearch : p.GetValue(sample) ? DecodingStrategy.Sampling : DecodingStrategy.Greedy,
                MaxNewTokens = p.GetValue(maxNew),
                NumBeams = k ?? 1,
                NumReturnSequences = k ?? p.GetValue(count),
                Temperature = p.GetValue(temperature),
                TopP = p.GetValue(topP),
                TopK = p.GetValue(topK),
                Seed = p.GetValue(seed),
                StopTokenIds = model.Config.EosTokenId is int eos ? [eos] : (tok.TokenToId(SpecialTokens.EndOfText) is int e ? [e] : []),
                StopSequences = p.GetValue(stop) ?? [],
            };
            using var step = new DecoderStepModel(model, useKvCache: true, maxTokens: 4096);
            var generator = new SequenceGenerator(step, ids => tok.Decode(ids));
            int[] promptIds = [.. tok.EncodeToIds(p.GetValue(prompt)!)];
            int context = model.Config.MaxPositions;
            if (promptIds.Length + options.MaxNewTokens > context)
            {
                throw new ArgumentException($"--max-new-tokens: the prompt's {promptIds.Length} tokens plus {options.MaxNewTokens} new ones exceed the model's context of {context} positions; ask for at most {Math.Max(0, context - promptIds.Length)}.");
            }

            foreach (GeneratedSequence s in generator.Generate([promptIds], options)[0])
            {
                if (p.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(new { token_ids = s.TokenIds, text = s.Text, logprob = s.LogProb }));
                }
                else
                {
                    AnsiConsole.MarkupLineInterpolated($"[grey]{s.LogProb,9:F3}[/]  {s.Text}");
                }
            }

            return 0;
        });
        return cmd;
    }
}
