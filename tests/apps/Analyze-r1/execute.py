import pandas as pd


def main():
    df = pd.read_excel("data.xlsx")
    df["revenue"] = df["units"] * df["price"]
    summary = df.groupby(["region", "date"])["revenue"].sum().reset_index()
    print(summary.to_json(orient="records"))


if __name__ == "__main__":
    main()
