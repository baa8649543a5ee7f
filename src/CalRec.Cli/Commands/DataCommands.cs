using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Data.Preprocessing;
using CalRec.Data.Storage;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec data stats</c> and <c>calrec data import</c>.</summary>
internal static class DataCommands
{
    public static Command Create()
    {
        var cmd = new Command("data", "Inspect and convert datasets.");
        cmd.Subcommands.Add(Stats());
        cmd.Subcommands.Add(Import());
        return cmd;
    }

    private static Command Stats()
    {
        var data = new Option<string[]>("--data") { Description = "Datasets: folders or files in any supported format, or .db files.", Required = true, AllowMultipleArgumentsPerToken = true };
        var kcore = new Option<int>("--k-core") { Description = "Apply iterative k-core filtering first (0: off)." };
        var json = new Option<bool>("--json") { Description = "One JSON object per dataset and domain." };
        var stats = new Command("stats", "Users, items, interactions, density and history-length percentiles, overall and per domain.") { data, kcore, json };
        var reading = new DatasetArguments();
        reading.AddTo(stats);
        CommandRunner.SetAction(stats, (p, _) =>
        {
            var table = new Table().AddColumns("dataset", "domain", "users", "items", "interactions", "density", "length p5/p25/p50/p75/p95/max", "unused items");
            foreach (string path in p.GetValue(data)!)
            {
                InteractionDataset d = reading.Load(p, path);

                foreach (string w in d.Warnings)
                {
                    UserErrors.Warn(w);
                }

                if (p.GetValue(kcore) > 1)
                {
                    d = Preprocessor.Apply(d, new PreprocessingOptions { KCore = p.GetValue(kcore) });
                }

                var rows = new List<(string Domain, DatasetStatistics Stats)> { ("(all)", DatasetStatistics.Of(d)) };
                IReadOnlyList<(string Domain, DatasetStatistics Statistics)> domains = DatasetStatistics.ByDomain(d);
                if (domains.Count > 1)
                {
                    rows.AddRange(domains);
                }

                foreach ((string domain, DatasetStatistics s) in rows)
                {
                    if (p.GetValue(json))
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new
                        {
                            dataset = d.Name, domain, users = s.Users, items = s.Items, interactions = s.Interactions, density = s.Density,
                            length_percentiles = DatasetStatistics.Levels.Zip(s.LengthPercentiles).ToDictionary(x => $"p{x.First}", x => x.Second),
                            unused_items = s.ItemsWithoutInteractions,
                        }));
                        continue;
                    }

                    table.AddRow(Markup.Escape(d.Name), Markup.Escape(domain), s.Users.ToString("N0", CultureInfo.InvariantCulture), s.Items.ToString("N0", CultureInfo.InvariantCulture),
                        s.Interactions.ToString("N0", CultureInfo.InvariantCulture), s.Density.ToString("P3", CultureInfo.InvariantCulture),
                        string.Join("/", s.LengthPercentiles), s.ItemsWithoutInteractions.ToString(CultureInfo.InvariantCulture));
                }
            }

            if (!p.GetValue(json))
            {
                AnsiConsole.Write(table);
            }

            return 0;
        });
        return stats;
    }

    private static Command Import()
    {
        var data = new Option<string>("--data") { Description = "Dataset to import: a folder or file in any supported format.", Required = true };
        var output = new Option<string>("--out") { Description = "SQLite database to write (replaced atomically).", Required = true };
        var kcore = new Option<int>("--k-core") { Description = "Apply iterative k-core filtering before importing (0: off)." };
        var import = new Command("import", "Import a dataset into a SQLite database file that every command accepts in place of the files.") { data, output, kcore };
        var reading = new DatasetArguments();
        reading.AddTo(import);
        CommandRunner.SetAction(import, (p, _) =>
        {
            InteractionDataset d = reading.Load(p, p.GetValue(data)!);
            foreach (string w in d.Warnings)
            {
                UserErrors.Warn(w);
            }

            if (p.GetValue(kcore) > 1)
            {
                d = Preprocessor.Apply(d, new PreprocessingOptions { KCore = p.GetValue(kcore) });
            }

            SqliteStore.Save(d, p.GetValue(output)!);
            AnsiConsole.MarkupLineInterpolated($"{d.Name}: {d.Users.Count:N0} users, {d.ItemCount:N0} items, {d.InteractionCount:N0} interactions -> {p.GetValue(output)}");
            return 0;
        });
        return import;
    }
}
