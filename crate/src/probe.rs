//! The linear probe of the CLIP paper: a small classifier on frozen image
//! embeddings, taught by a few labelled examples per class. Each feature is
//! centred and scaled by the examples' statistics (small but telling
//! differences between embeddings then count), and a multinomial logistic
//! regression with an L2 penalty is fitted by full-batch gradient descent:
//! the problems are tiny (at most a few hundred rows), so this takes
//! milliseconds, in the browser too.

use crate::error::{Error, Result};
use crate::zeroshot::argmax;

pub struct LinearProbe {
    mean: Vec<f32>,
    std: Vec<f32>,
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
}

impl LinearProbe {
    const STEPS: usize = 300;
    const LEARNING_RATE: f32 = 0.5;
    const L2: f32 = 1e-2;

    /// Fits `classes` classes to `rows` (all of one length) labelled `labels`.
    pub fn fit(rows: &[Vec<f32>], labels: &[usize], classes: usize) -> Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        if rows.is_empty() || rows.len() != labels.len() {
            return Err(Error::Input(format!(
                "a probe needs examples, one label each ({} examples, {} labels)",
                rows.len(),
                labels.len()
            )));
        }
        if rows.iter().any(|row| row.len() != dim) {
            return Err(Error::Input("examples of different lengths".into()));
        }
        if let Some(label) = labels.iter().find(|&&label| label >= classes) {
            return Err(Error::Input(format!(
                "label {label} is not one of {classes} classes"
            )));
        }
        let count = rows.len() as f32;
        let mean: Vec<f32> = (0..dim)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f32>() / count)
            .collect();
        let std = (0..dim)
            .map(|j| {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f32>() / count;
                var.sqrt().max(1e-6)
            })
            .collect();
        let mut probe = Self {
            mean,
            std,
            weights: vec![vec![0.0; dim]; classes],
            bias: vec![0.0; classes],
        };
        let rows: Vec<Vec<f32>> = rows.iter().map(|row| probe.scaled(row)).collect();
        for _ in 0..Self::STEPS {
            let mut grad_w = vec![vec![0.0f32; dim]; classes];
            let mut grad_b = vec![0.0f32; classes];
            for (row, &label) in rows.iter().zip(labels) {
                let probs = softmax(&probe.scores_of_scaled(row));
                for c in 0..classes {
                    let error = probs[c] - f32::from(c == label);
                    grad_b[c] += error / count;
                    for (g, x) in grad_w[c].iter_mut().zip(row) {
                        *g += error * x / count;
                    }
                }
            }
            for c in 0..classes {
                probe.bias[c] -= Self::LEARNING_RATE * grad_b[c];
                for (w, g) in probe.weights[c].iter_mut().zip(&grad_w[c]) {
                    *w -= Self::LEARNING_RATE * (g + Self::L2 * *w);
                }
            }
        }
        Ok(probe)
    }

    /// The probability of each class for `row`.
    pub fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        softmax(&self.scores_of_scaled(&self.scaled(row)))
    }

    /// The most likely class of `row`.
    pub fn predict(&self, row: &[f32]) -> usize {
        argmax(&self.scores_of_scaled(&self.scaled(row)))
    }

    fn scaled(&self, row: &[f32]) -> Vec<f32> {
        row.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((x, m), s)| (x - m) / s)
            .collect()
    }

    fn scores_of_scaled(&self, row: &[f32]) -> Vec<f32> {
        self.weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| w.iter().zip(row).map(|(w, x)| w * x).sum::<f32>() + b)
            .collect()
    }
}

/// How often a probe fitted to all examples but one labels that one right:
/// an honest accuracy when the examples are all there is.
pub fn leave_one_out_accuracy(rows: &[Vec<f32>], labels: &[usize], classes: usize) -> Result<f32> {
    if rows.len() < 2 {
        return Err(Error::Input(
            "leave-one-out needs at least two examples".into(),
        ));
    }
    let mut right = 0;
    for held in 0..rows.len() {
        let (rest, rest_labels): (Vec<Vec<f32>>, Vec<usize>) = rows
            .iter()
            .zip(labels)
            .enumerate()
            .filter(|(i, _)| *i != held)
            .map(|(_, (row, &label))| (row.clone(), label))
            .unzip();
        let probe = LinearProbe::fit(&rest, &rest_labels, classes)?;
        right += usize::from(probe.predict(&rows[held]) == labels[held]);
    }
    Ok(right as f32 / rows.len() as f32)
}

fn softmax(scores: &[f32]) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters() -> (Vec<Vec<f32>>, Vec<usize>) {
        let rows = vec![
            vec![1.0, 0.0],
            vec![0.9, 0.1],
            vec![0.95, 0.02],
            vec![0.0, 1.0],
            vec![0.1, 0.9],
            vec![0.05, 0.97],
        ];
        (rows, vec![0, 0, 0, 1, 1, 1])
    }

    #[test]
    fn separates_clusters_with_probabilities() {
        let (rows, labels) = clusters();
        let probe = LinearProbe::fit(&rows, &labels, 2).unwrap();
        assert_eq!(probe.predict(&[0.8, 0.3]), 0);
        assert_eq!(probe.predict(&[0.2, 0.7]), 1);
        let probs = probe.probabilities(&[0.8, 0.3]);
        assert!(
            (probs.iter().sum::<f32>() - 1.0).abs() < 1e-5 && probs[0] > 0.9,
            "{probs:?}"
        );
        assert_eq!(leave_one_out_accuracy(&rows, &labels, 2).unwrap(), 1.0);
    }

    #[test]
    fn bad_examples_are_named() {
        let (rows, labels) = clusters();
        assert!(LinearProbe::fit(&rows, &labels[..2], 2).is_err());
        assert!(LinearProbe::fit(&rows, &labels, 1).is_err());
        assert!(LinearProbe::fit(&[], &[], 2).is_err());
        assert!(leave_one_out_accuracy(&rows[..1], &labels[..1], 2).is_err());
    }
}
