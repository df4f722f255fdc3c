using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Uncoded.Simulator.Scenarios;

/// <summary>
/// Turns a YAML scenario into the JSON the scenario model reads, so both formats go through one
/// deserializer and one validation. One document of mappings, sequences and scalars (YAML 1.2 core
/// schema: plain <c>true</c>/<c>false</c>, <c>null</c>/<c>~</c>/empty and numbers are typed, quoted
/// scalars are strings). Anchors and aliases, tags other than <c>!!str</c>, duplicate keys and
/// nesting deeper than 64 are refused: a scenario never needs them.
/// </summary>
internal static partial class ScenarioYaml
{
    private const int MaxDepth = 64;

    private const string StrTag = "tag:yaml.org,2002:str";

    public static string ToJson(string yaml)
    {
        try
        {
            var parser = new Parser(new StringReader(yaml));
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                throw new ScenarioException("invalid scenario YAML: the file is empty");
            }
            parser.Consume<DocumentStart>();
            var root = Read(parser, 0);
            parser.Consume<DocumentEnd>();
            if (!parser.TryConsume<StreamEnd>(out _))
            {
                throw new ScenarioException("invalid scenario YAML: more than one document");
            }
            return root?.ToJsonString() ?? "null";
        }
        catch (YamlException e)
        {
            throw new ScenarioException($"invalid scenario YAML: {e.Message} (line {e.Start.Line}, column {e.Start.Column})");
        }
    }

    private static JsonNode? Read(IParser parser, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ScenarioException($"invalid scenario YAML: nested deeper than {MaxDepth} levels");
        }
        var current = parser.Current;
        if (current is NodeEvent { Anchor.IsEmpty: false } or AnchorAlias)
        {
            throw new ScenarioException($"invalid scenario YAML: anchors and aliases are not supported (line {current.Start.Line})");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            return FromScalar(scalar);
        }
        if (parser.TryConsume<SequenceStart>(out _))
        {
            var array = new JsonArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                array.Add(Read(parser, depth + 1));
            }
            return array;
        }
        if (parser.TryConsume<MappingStart>(out _))
        {
            var map = new JsonObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (parser.Current is not Scalar key)
                {
                    throw new ScenarioException($"invalid scenario YAML: a mapping key must be a plain name (line {parser.Current?.Start.Line})");
                }
                parser.MoveNext();
                if (map.ContainsKey(key.Value))
                {
                    throw new ScenarioException($"invalid scenario YAML: key '{key.Value}' appears twice (line {key.Start.Line})");
                }
                map[key.Value] = Read(parser, depth + 1);
            }
            return map;
        }
        throw new ScenarioException($"invalid scenario YAML: unexpected {current?.GetType().Name} (line {current?.Start.Line})");
    }

    private static JsonNode? FromScalar(Scalar scalar)
    {
        if (!scalar.Tag.IsEmpty && scalar.Tag.Value == "!")
        {
            return JsonValue.Create(scalar.Value); // the non-specific tag "!": a string (YAML 1.2 §6.9.1)
        }
        if (!scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific)
        {
            return scalar.Tag.Value == StrTag
                ? JsonValue.Create(scalar.Value)
                : throw new ScenarioException($"invalid scenario YAML: tag '{scalar.Tag.Value}' is not supported (line {scalar.Start.Line})");
        }
        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(scalar.Value);
        }
        var text = scalar.Value;
        return text switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" => JsonValue.Create(true),
            "false" or "False" or "FALSE" => JsonValue.Create(false),
            _ when JsonNumber().IsMatch(text) => JsonNode.Parse(text),
            _ => JsonValue.Create(text),
        };
    }

    /// <summary>A number in JSON's syntax (YAML's core-schema numbers beyond it stay strings).</summary>
    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex JsonNumber();
}
