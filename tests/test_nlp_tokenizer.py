from nlp.tokenizer import cut, cut_for_search


def test_domain_words_stay_whole():
    words = cut("办营业执照要统一社会信用代码吗，还有排污许可和专精特新认定")
    for w in ("营业执照", "统一社会信用代码", "排污许可", "专精特新"):
        assert w in words


def test_synonyms_are_normalised_to_one_word():
    assert "住房公积金" in cut("公积金怎么提取")
    assert "住房公积金" in cut("公积今断交了")  # a common typo
    assert "营业执照" in cut("执照过期了")


def test_cut_for_search_also_yields_the_short_words():
    words = cut_for_search("上海交通大学的应急转贷")
    assert {"上海", "交通", "大学", "上海交通大学", "应急转贷"} <= set(words)
