import java.io.BufferedReader;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jpmml.evaluator.Evaluator;
import org.jpmml.evaluator.EvaluatorUtil;
import org.jpmml.evaluator.InputField;
import org.jpmml.evaluator.LoadingModelEvaluatorBuilder;
import org.jpmml.evaluator.OutputField;

/**
 * Scores a PMML file with JPMML-Evaluator: `java -cp <jars> PmmlScore.java model.pmml rows.tsv`.
 * rows.tsv: a tab-separated header of input field names, then one row of numbers per line. Prints one line per
 * row: the output fields' values, tab-separated, in the PMML's output order. A PMML file that does
 * not load exits 2 with the reason on stderr.
 */
public class PmmlScore {
  public static void main(String[] args) throws Exception {
    Evaluator evaluator;
    try {
      evaluator = new LoadingModelEvaluatorBuilder().load(new File(args[0])).build();
      evaluator.verify();
    } catch (Exception e) {
      System.err.println("PMML refused: " + e);
      System.exit(2);
      return;
    }
    List<? extends InputField> inputs = evaluator.getInputFields();
    List<? extends OutputField> outputs = evaluator.getOutputFields();
    try (BufferedReader reader = Files.newBufferedReader(Path.of(args[1]))) {
      String[] header = reader.readLine().split("\t", -1);
      StringBuilder out = new StringBuilder();
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (line.isEmpty()) continue;
        String[] cells = line.split("\t", -1);
        Map<String, Object> raw = new LinkedHashMap<>();
        for (int i = 0; i < header.length; i++) raw.put(header[i], cells[i].isEmpty() ? null : Double.valueOf(cells[i]));
        Map<String, Object> arguments = new LinkedHashMap<>();
        for (InputField input : inputs) arguments.put(input.getName(), input.prepare(raw.get(input.getName())));
        Map<String, ?> results = EvaluatorUtil.decodeAll(evaluator.evaluate(arguments));
        for (int k = 0; k < outputs.size(); k++) {
          if (k > 0) out.append('\t');
          out.append(results.get(outputs.get(k).getName()));
        }
        out.append('\n');
      }
      System.out.print(out);
    }
  }
}
